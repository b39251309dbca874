// The name tables of the two import formats, one row per role.
#include <fmt/format.h>

#include "core/error.hpp"
#include "import/import.hpp"

namespace etch::import {

namespace {

struct RoleNames {
  Role role;
  bool per_layer;
  const char* gguf;         // after "blk.N." for per-layer roles
  const char* huggingface;  // after "model.layers.N." for per-layer roles
};

constexpr RoleNames kNames[] = {
    {Role::kTokenEmbedding, false, "token_embd.weight", "model.embed_tokens.weight"},
    {Role::kAttnNorm, true, "attn_norm.weight", "input_layernorm.weight"},
    {Role::kAttnQ, true, "attn_q.weight", "self_attn.q_proj.weight"},
    {Role::kAttnK, true, "attn_k.weight", "self_attn.k_proj.weight"},
    {Role::kAttnV, true, "attn_v.weight", "self_attn.v_proj.weight"},
    {Role::kAttnOutput, true, "attn_output.weight", "self_attn.o_proj.weight"},
    {Role::kAttnQBias, true, "attn_q.bias", "self_attn.q_proj.bias"},
    {Role::kAttnKBias, true, "attn_k.bias", "self_attn.k_proj.bias"},
    {Role::kAttnVBias, true, "attn_v.bias", "self_attn.v_proj.bias"},
    {Role::kAttnOutputBias, true, "attn_output.bias", "self_attn.o_proj.bias"},
    {Role::kFfnNorm, true, "ffn_norm.weight", "post_attention_layernorm.weight"},
    {Role::kFfnGate, true, "ffn_gate.weight", "mlp.gate_proj.weight"},
    {Role::kFfnUp, true, "ffn_up.weight", "mlp.up_proj.weight"},
    {Role::kFfnDown, true, "ffn_down.weight", "mlp.down_proj.weight"},
    {Role::kOutputNorm, false, "output_norm.weight", "model.norm.weight"},
    {Role::kOutput, false, "output.weight", "lm_head.weight"},
};

const RoleNames& names(Role role) {
  for (const RoleNames& n : kNames)
    if (n.role == role) return n;
  fail("internal: role {} has no names", static_cast<int>(role));
}

std::string spell(Role role, int64_t layer, const char* prefix, const char* RoleNames::*column) {
  const RoleNames& n = names(role);
  if (!n.per_layer) return n.*column;
  if (layer < 0) fail("internal: per-layer role '{}' named without a layer", n.*column);
  return fmt::format("{}{}.{}", prefix, layer, n.*column);
}

}  // namespace

bool is_layer_role(Role role) {
  return names(role).per_layer;
}

std::string gguf_name(Role role, int64_t layer) {
  return spell(role, layer, "blk.", &RoleNames::gguf);
}

std::string huggingface_name(Role role, int64_t layer) {
  return spell(role, layer, "model.layers.", &RoleNames::huggingface);
}

const Tensor& LayerWeights::matrix(Role role) const {
  switch (role) {
    case Role::kAttnQ:
      return wq;
    case Role::kAttnK:
      return wk;
    case Role::kAttnV:
      return wv;
    case Role::kAttnOutput:
      return wo;
    case Role::kFfnGate:
      return w_gate;
    case Role::kFfnUp:
      return w_up;
    case Role::kFfnDown:
      return w_down;
    default:
      fail("internal: role {} is not a layer matrix", static_cast<int>(role));
  }
}

}  // namespace etch::import
