// Inside the etch module: what the .etch writer takes, and the reader's entry on a mapping.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "compile/compile.hpp"

namespace etch::compile {

struct EtchContents {
  import::ModelConfig config;
  tokenize::Vocabulary vocab;
  std::string recipe, calibration;
  std::vector<Matrix> matrices;  // in EtchModel's order
  // Named float32 vectors: blk.N.attn_norm, blk.N.ffn_norm, blk.N.MATRIX.bias (config.qkv_bias:
  // attn_q, attn_k, attn_v; o_bias: attn_output), output_norm, rope.cos, rope.sin.
  std::vector<std::pair<std::string, std::vector<float>>> vectors;
  bool o_bias = false;
  int64_t rope_positions = 0;
  const SramAdapter* adapter = nullptr;  // the default adapter to fold into SRAM, if any
};

void write_etch(const std::string& path, const EtchContents& contents);
EtchModel parse_etch(SharedMappedFile file);

}  // namespace etch::compile
