// The role name tables against real files: every tensor of kjv-8m's GGUF and Hugging Face
// forms is named by exactly one role, and a role names tensors of the same shape in both.
#include <gtest/gtest.h>

#include <set>

#include "core/error.hpp"
#include "import/import.hpp"
#include "test_support.hpp"

namespace etch::import {
namespace {

std::vector<Role> all_roles() {
  std::vector<Role> roles;
  for (int r = 0; r <= static_cast<int>(Role::kOutput); ++r) roles.push_back(static_cast<Role>(r));
  return roles;
}

// Every name the table gives for a model of `layers` layers.
std::set<std::string> role_names(std::string (*name)(Role, int64_t), int64_t layers) {
  std::set<std::string> names;
  for (Role role : all_roles()) {
    if (!is_layer_role(role)) {
      EXPECT_TRUE(names.insert(name(role, -1)).second) << name(role, -1);
      continue;
    }
    for (int64_t l = 0; l < layers; ++l)
      EXPECT_TRUE(names.insert(name(role, l)).second) << name(role, l);
  }
  return names;
}

TEST(Roles, NameEveryTensorOfBothFormats) {
  const auto dir = testing::model_dir("kjv-8m");
  const Model gguf = load_model((dir / "kjv-8m-bf16.gguf").string());
  const Model hf = load_model((dir / "hf").string());
  const int64_t layers = gguf.config.layers;
  const auto gguf_names = role_names(gguf_name, layers);
  const auto hf_names = role_names(huggingface_name, layers);
  // Biases are roles of the table that this model does not have.
  for (const Tensor& t : gguf.tensors) EXPECT_TRUE(gguf_names.contains(t.name)) << t.name;
  for (const Tensor& t : hf.tensors) EXPECT_TRUE(hf_names.contains(t.name)) << t.name;
  EXPECT_EQ(gguf_names.size() - 4 * static_cast<size_t>(layers), gguf.tensors.size());
  EXPECT_EQ(hf_names.size() - 4 * static_cast<size_t>(layers), hf.tensors.size());

  for (int64_t l = 0; l < layers; ++l)
    for (Role role : kLayerMatrices) {
      const Tensor& a = gguf.layers[static_cast<size_t>(l)].matrix(role);
      const Tensor& b = hf.layers[static_cast<size_t>(l)].matrix(role);
      EXPECT_EQ(a.name, gguf_name(role, l));
      EXPECT_EQ(b.name, huggingface_name(role, l));
      EXPECT_EQ(a.shape, b.shape) << a.name;
    }
}

TEST(Roles, PerLayerRolesNeedALayer) {
  EXPECT_EQ(gguf_name(Role::kAttnQ, 3), "blk.3.attn_q.weight");
  EXPECT_EQ(huggingface_name(Role::kFfnDown, 0), "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(gguf_name(Role::kOutput), "output.weight");
  EXPECT_THROW(gguf_name(Role::kAttnQ), Error);
  const LayerWeights layer;
  EXPECT_THROW(static_cast<void>(layer.matrix(Role::kOutput)), Error);
}

}  // namespace
}  // namespace etch::import
