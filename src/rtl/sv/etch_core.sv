// The chip's layer sequencer: one token in (start with token and position), the token's logits
// out, through every layer, exactly as contract v2's integer engine computes it
// (src/run/integer_engine.cpp). A program counter walks the forward pass:
//   embedding lookup; per layer: RMSNorm, Q/K/V products (+ biases), RoPE, K and V quantized
//   into the KV-cache SRAM, per head: query quantized, scores against every cached key,
//   softmax weights, value sum; the attention output quantized, O product (+ bias) and the
//   residual add; RMSNorm, gate and up products, SwiGLU, quantized, down product and the
//   residual add; then the final RMSNorm and the output head.
// The element-wise steps (the quantizer's two passes and the KV-cache writes, RMSNorm's element
// pass, RoPE, SwiGLU, a head's value outputs) take ELEMENT_LANES elements per cycle (RoPE:
// ELEMENT_LANES / 2 pairs, rounded up) through as many copies of the library's units side by
// side (the quantizer: its lanes), the activation memory written and read ELEMENT_LANES words
// per cycle; their reductions are exact and order-free (the quantizer's max of magnitudes,
// RMSNorm's integer sum of squares). The products take one group of a block of ROWS rows per
// cycle in the format's PARALLEL_TILES msa_tiles, then LANES rows per cycle out; the scores a
// whole head's dot per cycle; the value sum a head's HEAD_DIM accumulators per cached position.
// One per cycle remain: the embedding lookup (one element of a ROM word per cycle) and
// softmax's passes over the cached positions (softmax_weights keeps its running max, its sum
// and its quantizer inside).
//
// The per-model part is parameters and ROM files: MATRICES_FILE holds one descriptor per
// matrix in forward order (embedding, layers' q k v o gate up down, output head): its format
// slot, first ROM word, first level tile, first row scale, rows, columns, groups and its
// bias's first word in the vector ROM (all ones: no bias), 32 bits each from the LSB;
// SCALES_FILE every matrix's binary32 row scales; VECTORS_FILE the norm weights, biases and
// RoPE tables (layout below); CODES*_FILE and LEVELS*_FILE the formats' ROMs (one to four: hc1 mixes hc3 to hc6)
// (etch_weights).
//
// trace_* reports the residual stream as it is written (unit 0: after attention, unit 1: the
// layer's output) and the logits (unit 2), trace_count elements per cycle from trace_index
// (lane l in trace_value[32l +: 32]), for co-simulation.
// Addresses are computed in 32 bits and cut to each memory's width where they are used, so
// their upper bits are unused by design.
/* verilator lint_off UNUSEDSIGNAL */
module etch_core #(
    parameter int HIDDEN = 64,
    parameter int LAYERS = 1,
    parameter int HEADS = 1,
    parameter int KV_HEADS = 1,
    parameter int HEAD_DIM = 2,
    parameter int FFN = 64,
    parameter int ROPE_PAIRS = 1,
    parameter int ROPE_HALF_SPLIT = 0,
    parameter int CONTEXT = 4,
    parameter int COS_BASE = 129,
    parameter logic [31:0] RMS_EPS = 32'h3727C5AC,
    parameter logic [31:0] INV_SQRT_HEAD_DIM = 32'h3F3504F3,
    parameter int ROWS = 8,
    parameter int PARALLEL_TILES = 1,
    parameter int LANES = 1,
    parameter int ELEMENT_LANES = 1,
    parameter int SCALE_WORDS = 1,
    parameter int FORMATS = 1,
    parameter int K0 = 3,
    parameter int GROUP0 = 32,
    parameter int MULTIPLIER_BITS0 = 4,
    parameter int MULTIPLIER_KIND0 = 1,
    parameter int WORDS0 = 1,
    parameter int TILES0 = 1,
    parameter int K1 = 3,
    parameter int GROUP1 = 32,
    parameter int MULTIPLIER_BITS1 = 4,
    parameter int MULTIPLIER_KIND1 = 1,
    parameter int WORDS1 = 1,
    parameter int TILES1 = 1,
    parameter int K2 = 3,
    parameter int GROUP2 = 32,
    parameter int MULTIPLIER_BITS2 = 4,
    parameter int MULTIPLIER_KIND2 = 1,
    parameter int WORDS2 = 1,
    parameter int TILES2 = 1,
    parameter int K3 = 3,
    parameter int GROUP3 = 32,
    parameter int MULTIPLIER_BITS3 = 4,
    parameter int MULTIPLIER_KIND3 = 1,
    parameter int WORDS3 = 1,
    parameter int TILES3 = 1,
    parameter MATRICES_FILE = "rom/matrices.hex",
    parameter SCALES_FILE = "rom/scales.hex",
    parameter VECTORS_FILE = "rom/vectors.hex",
    parameter CODES0_FILE = "rom/codes0.hex",
    parameter LEVELS0_FILE = "rom/levels0.hex",
    parameter CODES1_FILE = "rom/codes1.hex",
    parameter LEVELS1_FILE = "rom/levels1.hex",
    parameter CODES2_FILE = "rom/codes2.hex",
    parameter LEVELS2_FILE = "rom/levels2.hex",
    parameter CODES3_FILE = "rom/codes3.hex",
    parameter LEVELS3_FILE = "rom/levels3.hex",
    parameter EXP_TABLE_FILE = "exp_table.mem"
) (
    input  logic        clk,
    input  logic        start,
    input  logic [31:0] token,
    input  logic [31:0] position,
    output logic        busy,
    output logic        trace_valid,
    output logic [ 1:0] trace_unit,
    output logic [31:0] trace_layer,
    output logic [31:0] trace_index,
    output logic [31:0] trace_count,
    output logic [LANES*32-1:0] trace_value
);
  localparam int QDim = HEADS * HEAD_DIM;
  localparam int KvDim = KV_HEADS * HEAD_DIM;
  localparam int HeadsPerKv = HEADS / KV_HEADS;
  localparam int Matrices = 2 + 7 * LAYERS;
  localparam int MaxGroup = GROUP0 > GROUP1 ? GROUP0 : GROUP1;
  localparam int MaxWidth0 = HIDDEN > QDim ? HIDDEN : QDim;
  localparam int MaxWidth = MaxWidth0 > FFN ? MaxWidth0 : FFN;
  localparam int CodeLanes = (MaxWidth + MaxGroup - 1) / MaxGroup * MaxGroup;

  // The activation SRAM: the residual stream x, the norm output, q, k, v, the attention output,
  // gate and up, as regions of one memory of binary32 words.
  localparam int XBase = 0;
  localparam int NormBase = XBase + HIDDEN;
  localparam int QBase = NormBase + HIDDEN;
  localparam int KBase = QBase + QDim;
  localparam int VBase = KBase + KvDim;
  localparam int AttBase = VBase + KvDim;
  localparam int GateBase = AttBase + QDim;
  localparam int UpBase = GateBase + FFN;
  localparam int ActWords = UpBase + FFN;
  localparam int ActBits = $clog2(ActWords);

  // The vector ROM: attention norms, FFN norms, the output norm, the biases the descriptors
  // point to, then from COS_BASE RoPE cos and sin as [position][pair].
  localparam int AttnNormBase = 0;
  localparam int FfnNormBase = LAYERS * HIDDEN;
  localparam int OutNormBase = 2 * LAYERS * HIDDEN;
  localparam int SinBase = COS_BASE + CONTEXT * ROPE_PAIRS;
  localparam int VectorWords = SinBase + CONTEXT * ROPE_PAIRS;
  localparam int VectorBits = $clog2(VectorWords);
  localparam int ScaleBits = SCALE_WORDS > 1 ? $clog2(SCALE_WORDS) : 1;
  localparam int MatrixBits = $clog2(Matrices);
  localparam int KvWords = LAYERS * CONTEXT * KV_HEADS;
  localparam int ContextBits = CONTEXT > 1 ? $clog2(CONTEXT) : 1;
  localparam int HiddenBits = HIDDEN > 1 ? $clog2(HIDDEN) : 1;
  localparam int LaneBits = HEAD_DIM > 1 ? $clog2(HEAD_DIM) : 1;
  localparam int RopeLength = (HEADS + KV_HEADS) * ROPE_PAIRS;  // pairs rotated per token
  localparam int RopeLanes = (ELEMENT_LANES + 1) / 2;  // pairs per cycle: two elements each

  // Program steps (pc) and the states that carry them out.
  localparam logic [4:0] PcEmbed = 0, PcNorm1 = 1, PcQ = 2, PcK = 3, PcV = 4, PcRope = 5,
      PcKv = 6, PcHeadQuery = 7, PcHeadAttend = 8, PcAttQuant = 9, PcO = 10, PcNorm2 = 11,
      PcGate = 12, PcUp = 13, PcSwiglu = 14, PcFfnQuant = 15, PcDown = 16, PcOutNorm = 17,
      PcHead = 18;
  localparam logic [4:0] SIdle = 0, SEmbed = 1, SDispatch = 2, SAdvance = 3, SQuantClear = 4,
      SQuantMax = 5, SQuantApply = 6, SNormGain = 7, SNormElement = 8, SMatClear = 9,
      SMatGroup = 10, SMatOut = 11, SRope = 12, SScoreClear = 13, SScoreDot = 14,
      SScoreRead = 15, SSoftmax0 = 16, SSoftmax1 = 17, SSoftmax2 = 18, SValueSum = 19,
      SValueOut = 20, SSwiglu = 21;
  // Where a quantized vector goes.
  localparam logic [2:0] ToNormCodes = 0, ToMatrixInput = 1, ToHeadQuery = 2, ToKeyCache = 3,
      ToValueCache = 4;
  // Where a product's rows go.
  localparam logic [2:0] RowsToAct = 0, RowsToResidual = 1, RowsToLogits = 2;

  logic [4:0] state, pc;
  logic [31:0] token_id, pos, layer, head, step, i, j, block, group, row_in_block;

  // ---- ROMs ----
  logic [255:0] matrix_rom[0:Matrices-1];
  logic [31:0] scale_rom[0:SCALE_WORDS-1];
  logic [31:0] vector_rom[0:VectorWords-1];
  initial begin
    $readmemh(MATRICES_FILE, matrix_rom);
    $readmemh(SCALES_FILE, scale_rom);
    $readmemh(VECTORS_FILE, vector_rom);
  end

  // ---- Memories ----
  logic [31:0] act[0:ActWords-1];
  logic [15:0] norm_codes[0:HIDDEN-1];
  logic [CodeLanes*16-1:0] matrix_input;  // the next product's quantized input
  logic [31:0] matrix_input_scale;
  logic [HEAD_DIM*16-1:0] head_query;
  logic [31:0] head_query_scale;
  logic [31:0] scores[0:CONTEXT-1];
  logic [15:0] weight_codes[0:CONTEXT-1];

  // ---- The current matrix ----
  logic [31:0] matrix;
  logic [255:0] descriptor;
  logic [31:0] mat_slot, mat_word, mat_tile, mat_scale, mat_rows, mat_cols, mat_groups, mat_bias;
  assign descriptor = matrix_rom[matrix[MatrixBits-1:0]];
  assign {mat_bias, mat_groups, mat_cols, mat_rows, mat_scale, mat_tile, mat_word, mat_slot} = descriptor;
  logic [2:0] rows_to;
  logic [31:0] rows_base;
  logic add_bias;  // a descriptor's bias word is all ones when the matrix has no bias
  assign add_bias = mat_bias != 32'hFFFFFFFF;

  // ---- Element lanes: element i + l of an element-wise step goes through lane l ----
  logic [31:0] element_length;  // the step's elements (RoPE: pairs)
  logic [31:0] element_index[ELEMENT_LANES];
  logic [ELEMENT_LANES-1:0] lane_on;  // lanes past the step's end idle
  logic last_elements;  // this cycle's lanes finish the step
  always_comb begin
    case (state)
      SQuantMax, SQuantApply: element_length = quant_length;
      SNormElement: element_length = HIDDEN;
      SRope: element_length = RopeLength;
      SValueOut: element_length = HEAD_DIM;
      SSwiglu: element_length = FFN;
      default: element_length = 0;
    endcase
  end
  logic [31:0] step_lanes;  // lanes the step uses
  assign step_lanes = state == SRope ? RopeLanes : ELEMENT_LANES;
  assign last_elements = i + step_lanes >= element_length;
  genvar element_lane;
  generate
    for (element_lane = 0; element_lane < ELEMENT_LANES; element_lane = element_lane + 1)
    begin : g_element_index
      assign element_index[element_lane] = i + element_lane;
      assign lane_on[element_lane] = element_index[element_lane] < element_length &&
          element_lane < step_lanes;
    end
  endgenerate

  // ---- Quantizer: ELEMENT_LANES elements per cycle, idle lanes +0 (no effect on amax) ----
  logic [31:0] quant_address, quant_length, quant_to_base;
  logic [2:0] quant_to;
  logic [ELEMENT_LANES*32-1:0] quant_x;
  logic [31:0] quant_scale;
  logic [ELEMENT_LANES*16-1:0] quant_codes;
  logic quant_clear, quant_max_valid;
  assign quant_clear = state == SQuantClear;
  assign quant_max_valid = state == SQuantMax;
  generate
    for (element_lane = 0; element_lane < ELEMENT_LANES; element_lane = element_lane + 1)
    begin : g_quant_lane
      logic [31:0] address;
      assign address = quant_address + element_index[element_lane];
      assign quant_x[element_lane*32+:32] = lane_on[element_lane] ? act[address[ActBits-1:0]] :
          32'd0;
    end
  endgenerate
  act_quantizer #(.LANES(ELEMENT_LANES)) quantizer (
      .clk(clk),
      .clear(quant_clear),
      .max_valid(quant_max_valid),
      .x(quant_x),
      .q(quant_codes),
      .scale(quant_scale)
  );

  // ---- RMSNorm ----
  logic [31:0] norm_weight_base, gain, gain_reg;
  logic signed [63:0] sum_squares;
  // The sum of squares is exact in 64 bits, so the lanes' order does not change it.
  dot_accumulator #(.LANES(ELEMENT_LANES)) squares (
      .clk(clk),
      .clear(quant_clear),
      .valid(state == SQuantApply && quant_to == ToNormCodes),
      .a(quant_codes),
      .b(quant_codes),
      .acc(sum_squares)
  );
  rms_norm_scale norm_scale (
      .sum_squares(sum_squares),
      .length(HIDDEN),
      .scale(quant_scale),
      .eps(RMS_EPS),
      .gain(gain)
  );
  logic [31:0] norm_y[ELEMENT_LANES], norm_address[ELEMENT_LANES];
  generate
    for (element_lane = 0; element_lane < ELEMENT_LANES; element_lane = element_lane + 1)
    begin : g_norm_lane
      logic [31:0] index, weight_address;
      assign index = element_index[element_lane];
      assign weight_address = norm_weight_base + index;
      assign norm_address[element_lane] = NormBase + index;
      rms_norm_element norm_element (
          .code(norm_codes[index[HiddenBits-1:0]]),
          .gain(gain_reg),
          .weight(vector_rom[weight_address[VectorBits-1:0]]),
          .result(norm_y[element_lane])
      );
    end
  endgenerate

  // ---- Weights: one ROM and tile per format ----
  logic mat_clear, mat_valid;
  assign mat_clear = state == SMatClear;
  assign mat_valid = state == SMatGroup;
  logic [ROWS*64-1:0] acc0, acc1, acc2, acc3, acc;
  logic signed [31:0] lookup0, lookup1, lookup2, lookup3, lookup;
  // The row whose weights the embedding lookup reads, else the block's first row.
  logic [31:0] weight_row;
  assign weight_row = state == SEmbed ? token_id : block * ROWS;

  etch_weights #(
      .K(K0),
      .GROUP(GROUP0),
      .ROWS(ROWS),
      .PARALLEL_TILES(PARALLEL_TILES),
      .MULTIPLIER_BITS(MULTIPLIER_BITS0),
      .MULTIPLIER_KIND(MULTIPLIER_KIND0),
      .WORDS(WORDS0),
      .TILES(TILES0),
      .CODES_FILE(CODES0_FILE),
      .LEVELS_FILE(LEVELS0_FILE),
      .INPUT_LANES(CodeLanes)
  ) weights0 (
      .clk(clk),
      .clear(mat_clear),
      .valid(mat_valid && mat_slot == 0),
      .embed(state == SEmbed),
      .matrix_input(matrix_input),
      .columns(mat_cols),
      .first_word(mat_word),
      .first_tile(mat_tile),
      .groups(mat_groups),
      .row(weight_row),
      .group(group),
      .element(i),
      .acc(acc0),
      .lookup_weight(lookup0)
  );
  generate
    if (FORMATS > 1) begin : g_second_format
      etch_weights #(
          .K(K1),
          .GROUP(GROUP1),
          .ROWS(ROWS),
          .PARALLEL_TILES(PARALLEL_TILES),
          .MULTIPLIER_BITS(MULTIPLIER_BITS1),
          .MULTIPLIER_KIND(MULTIPLIER_KIND1),
          .WORDS(WORDS1),
          .TILES(TILES1),
          .CODES_FILE(CODES1_FILE),
          .LEVELS_FILE(LEVELS1_FILE),
          .INPUT_LANES(CodeLanes)
      ) weights1 (
          .clk(clk),
          .clear(mat_clear),
          .valid(mat_valid && mat_slot == 1),
          .embed(state == SEmbed),
          .matrix_input(matrix_input),
          .columns(mat_cols),
          .first_word(mat_word),
          .first_tile(mat_tile),
          .groups(mat_groups),
          .row(weight_row),
          .group(group),
          .element(i),
          .acc(acc1),
          .lookup_weight(lookup1)
      );
    end else begin : g_no_second_format
      assign acc1 = '0;
      assign lookup1 = '0;
    end
  endgenerate
  generate
    if (FORMATS > 2) begin : g_third_format
      etch_weights #(
          .K(K2),
          .GROUP(GROUP2),
          .ROWS(ROWS),
          .PARALLEL_TILES(PARALLEL_TILES),
          .MULTIPLIER_BITS(MULTIPLIER_BITS2),
          .MULTIPLIER_KIND(MULTIPLIER_KIND2),
          .WORDS(WORDS2),
          .TILES(TILES2),
          .CODES_FILE(CODES2_FILE),
          .LEVELS_FILE(LEVELS2_FILE),
          .INPUT_LANES(CodeLanes)
      ) weights2 (
          .clk(clk),
          .clear(mat_clear),
          .valid(mat_valid && mat_slot == 2),
          .embed(state == SEmbed),
          .matrix_input(matrix_input),
          .columns(mat_cols),
          .first_word(mat_word),
          .first_tile(mat_tile),
          .groups(mat_groups),
          .row(weight_row),
          .group(group),
          .element(i),
          .acc(acc2),
          .lookup_weight(lookup2)
      );
    end else begin : g_no_third_format
      assign acc2 = '0;
      assign lookup2 = '0;
    end
  endgenerate
  generate
    if (FORMATS > 3) begin : g_fourth_format
      etch_weights #(
          .K(K3),
          .GROUP(GROUP3),
          .ROWS(ROWS),
          .PARALLEL_TILES(PARALLEL_TILES),
          .MULTIPLIER_BITS(MULTIPLIER_BITS3),
          .MULTIPLIER_KIND(MULTIPLIER_KIND3),
          .WORDS(WORDS3),
          .TILES(TILES3),
          .CODES_FILE(CODES3_FILE),
          .LEVELS_FILE(LEVELS3_FILE),
          .INPUT_LANES(CodeLanes)
      ) weights3 (
          .clk(clk),
          .clear(mat_clear),
          .valid(mat_valid && mat_slot == 3),
          .embed(state == SEmbed),
          .matrix_input(matrix_input),
          .columns(mat_cols),
          .first_word(mat_word),
          .first_tile(mat_tile),
          .groups(mat_groups),
          .row(weight_row),
          .group(group),
          .element(i),
          .acc(acc3),
          .lookup_weight(lookup3)
      );
    end else begin : g_no_fourth_format
      assign acc3 = '0;
      assign lookup3 = '0;
    end
  endgenerate
  always_comb begin
    case (mat_slot)
      32'd0: begin
        acc = acc0;
        lookup = lookup0;
      end
      32'd1: begin
        acc = acc1;
        lookup = lookup1;
      end
      32'd2: begin
        acc = acc2;
        lookup = lookup2;
      end
      default: begin
        acc = acc3;
        lookup = lookup3;
      end
    endcase
  end

  // Embedding: x_j = float(level * multiplier) * row_scale.
  logic [31:0] lookup_float, embedded, token_scale_address;
  assign token_scale_address = mat_scale + token_id;
  fp32_from_int64 lookup_to_float (
      .value({{32{lookup[31]}}, lookup}),
      .result(lookup_float)
  );
  fp32_mul embed_scale (
      .a(lookup_float),
      .b(scale_rom[token_scale_address[ScaleBits-1:0]]),
      .result(embedded)
  );

  // LANES product rows per cycle from out_row: float(acc) * (row_scale * x_scale), the bias, the
  // residual add.
  logic [31:0] out_row;
  logic [31:0] lane_biased[LANES], lane_residual[LANES], lane_write_address[LANES];
  assign out_row = block * ROWS + row_in_block;
  genvar row_lane;
  generate
    for (row_lane = 0; row_lane < LANES; row_lane = row_lane + 1) begin : g_row_lane
      logic [31:0] lane_row, lane_block_row, row_scale_address, row_value, bias_row_address;
      logic [31:0] bias_sum, residual_in;
      assign lane_row = out_row + row_lane;
      assign lane_block_row = row_in_block + row_lane;
      assign row_scale_address = mat_scale + lane_row;
      msa_output product_row (
          .acc(acc[lane_block_row*64+:64]),
          .row_scale(scale_rom[row_scale_address[ScaleBits-1:0]]),
          .x_scale(matrix_input_scale),
          .result(row_value)
      );
      assign bias_row_address = mat_bias + lane_row;
      fp32_add bias_add (
          .a(row_value),
          .b(vector_rom[bias_row_address[VectorBits-1:0]]),
          .result(bias_sum)
      );
      assign lane_biased[row_lane] = add_bias ? bias_sum : row_value;
      assign lane_write_address[row_lane] = rows_base + lane_row;
      assign residual_in = act[lane_write_address[row_lane][ActBits-1:0]];
      fp32_add residual_add (
          .a(residual_in),
          .b(lane_biased[row_lane]),
          .result(lane_residual[row_lane])
      );
      assign trace_value[row_lane*32+:32] = rows_to == RowsToLogits ? lane_biased[row_lane] :
          lane_residual[row_lane];
    end
  endgenerate
  // Rows of the product left from out_row, and whether this cycle's lanes finish it.
  logic [31:0] rows_left;
  logic last_rows;
  assign rows_left = mat_rows - out_row;
  assign last_rows = rows_left <= LANES;

  // ---- RoPE: RopeLanes pairs per cycle over the q heads, then the k heads ----
  logic [31:0] rope_a[RopeLanes], rope_b[RopeLanes];
  logic [31:0] rope_a_out[RopeLanes], rope_b_out[RopeLanes];
  generate
    for (element_lane = 0; element_lane < RopeLanes; element_lane = element_lane + 1)
    begin : g_rope_lane
      logic [31:0] pair, head_of_pair, pair_index, cos_address, sin_address;
      assign pair = element_index[element_lane];
      assign head_of_pair = pair / ROPE_PAIRS;
      assign pair_index = pair % ROPE_PAIRS;
      assign rope_a[element_lane] = (head_of_pair < HEADS ? QBase + head_of_pair * HEAD_DIM :
                                     KBase + (head_of_pair - HEADS) * HEAD_DIM) +
          (ROPE_HALF_SPLIT != 0 ? pair_index : 2 * pair_index);
      assign rope_b[element_lane] = rope_a[element_lane] + (ROPE_HALF_SPLIT != 0 ? ROPE_PAIRS : 1);
      assign cos_address = COS_BASE + pos * ROPE_PAIRS + pair_index;
      assign sin_address = SinBase + pos * ROPE_PAIRS + pair_index;
      rope_pair rope (
          .a(act[rope_a[element_lane][ActBits-1:0]]),
          .b(act[rope_b[element_lane][ActBits-1:0]]),
          .cos(vector_rom[cos_address[VectorBits-1:0]]),
          .sin(vector_rom[sin_address[VectorBits-1:0]]),
          .a_rotated(rope_a_out[element_lane]),
          .b_rotated(rope_b_out[element_lane])
      );
    end
  endgenerate

  // ---- KV cache ----
  logic [31:0] kv_row, kv_write_address, kv_read_address;
  logic [HEAD_DIM*16-1:0] key_codes, value_codes;
  logic [31:0] key_scale, value_scale;
  assign kv_row = layer * CONTEXT * KV_HEADS;
  assign kv_write_address = kv_row + pos * KV_HEADS + quant_to_base;
  assign kv_read_address = kv_row + j * KV_HEADS + head / HeadsPerKv;
  kv_cache #(
      .WORDS(KvWords),
      .LANES(HEAD_DIM),
      .WRITE_LANES(ELEMENT_LANES)
  ) key_cache (
      .clk(clk),
      .write(state == SQuantApply && quant_to == ToKeyCache),
      .write_address(kv_write_address),
      .write_lane(i),
      .write_codes(quant_codes),
      .write_mask(lane_on),
      .write_scale(quant_scale),
      .read_address(kv_read_address),
      .read_codes(key_codes),
      .read_scale(key_scale)
  );
  kv_cache #(
      .WORDS(KvWords),
      .LANES(HEAD_DIM),
      .WRITE_LANES(ELEMENT_LANES)
  ) value_cache (
      .clk(clk),
      .write(state == SQuantApply && quant_to == ToValueCache),
      .write_address(kv_write_address),
      .write_lane(i),
      .write_codes(quant_codes),
      .write_mask(lane_on),
      .write_scale(quant_scale),
      .read_address(kv_read_address),
      .read_codes(value_codes),
      .read_scale(value_scale)
  );

  // ---- Attention of one head ----
  logic [31:0] score, score_j, softmax_step;
  logic signed [15:0] weight_code;
  attention_score #(.LANES(HEAD_DIM)) score_unit (
      .clk(clk),
      .clear(state == SScoreClear || state == SScoreRead),
      .valid(state == SScoreDot),
      .q(head_query),
      .k(key_codes),
      .q_scale(head_query_scale),
      .k_scale(key_scale),
      .inv_sqrt_dim(INV_SQRT_HEAD_DIM),
      .score(score)
  );
  assign score_j = scores[j[ContextBits-1:0]];
  softmax_weights #(.TABLE_FILE(EXP_TABLE_FILE)) softmax (
      .clk(clk),
      .clear(state == SScoreClear),
      .valid(state == SSoftmax0 || state == SSoftmax1 || state == SSoftmax2),
      .pass(state == SSoftmax0 ? 2'd0 : state == SSoftmax1 ? 2'd1 : 2'd2),
      .score(score_j),
      .v_scale(value_scale),
      .weight_code(weight_code),
      .step(softmax_step)
  );
  logic [HEAD_DIM*64-1:0] value_sums;
  genvar lane;
  generate
    for (lane = 0; lane < HEAD_DIM; lane = lane + 1) begin : g_value_lane
      dot_accumulator #(.LANES(1)) value_sum (
          .clk(clk),
          .clear(state == SScoreClear),
          .valid(state == SValueSum),
          .a(weight_codes[j[ContextBits-1:0]]),
          .b(value_codes[lane*16+:16]),
          .acc(value_sums[lane*64+:64])
      );
    end
  endgenerate
  logic [31:0] attention_out[ELEMENT_LANES], attention_address[ELEMENT_LANES];
  generate
    for (element_lane = 0; element_lane < ELEMENT_LANES; element_lane = element_lane + 1)
    begin : g_value_out_lane
      logic [31:0] index;
      assign index = element_index[element_lane];
      assign attention_address[element_lane] = AttBase + head * HEAD_DIM + index;
      attention_value value_out (
          .acc(value_sums[index[LaneBits-1:0]*64+:64]),
          .step(softmax_step),
          .result(attention_out[element_lane])
      );
    end
  endgenerate

  // ---- SwiGLU: the result replaces the gate ----
  logic [31:0] swiglu_gate_address[ELEMENT_LANES], swiglu_out[ELEMENT_LANES];
  generate
    for (element_lane = 0; element_lane < ELEMENT_LANES; element_lane = element_lane + 1)
    begin : g_swiglu_lane
      logic [31:0] up_address;
      assign swiglu_gate_address[element_lane] = GateBase + element_index[element_lane];
      assign up_address = UpBase + element_index[element_lane];
      swiglu #(.TABLE_FILE(EXP_TABLE_FILE)) ffn_swiglu (
          .g(act[swiglu_gate_address[element_lane][ActBits-1:0]]),
          .u(act[up_address[ActBits-1:0]]),
          .result(swiglu_out[element_lane])
      );
    end
  endgenerate

  // ---- Trace ----
  assign busy = state != SIdle;
  assign trace_valid = state == SMatOut && out_row < mat_rows && rows_to != RowsToAct;
  assign trace_unit = rows_to == RowsToLogits ? 2'd2 : pc == PcO ? 2'd0 : 2'd1;
  assign trace_layer = layer;
  assign trace_index = out_row;
  assign trace_count = last_rows ? rows_left : LANES;

  // ---- Sequencer ----
  logic [31:0] embed_address;
  assign embed_address = XBase + i;

  always_ff @(posedge clk) begin
    case (state)
      SIdle:
      if (start) begin
        token_id <= token;
        pos <= position;
        layer <= 0;
        head <= 0;
        step <= 0;
        i <= 0;
        pc <= PcEmbed;
        matrix <= 0;
        state <= SEmbed;
      end
      SEmbed: begin
        act[embed_address[ActBits-1:0]] <= embedded;
        i <= i + 1;
        if (i == HIDDEN - 1) state <= SAdvance;
      end
      SAdvance: begin
        state <= SDispatch;
        case (pc)
          PcKv:
          if (step == 2 * KV_HEADS - 1) begin
            step <= 0;
            pc <= PcHeadQuery;
          end else step <= step + 1;
          PcHeadAttend:
          if (head == HEADS - 1) begin
            head <= 0;
            pc <= PcAttQuant;
          end else begin
            head <= head + 1;
            pc <= PcHeadQuery;
          end
          PcDown:
          if (layer == LAYERS - 1) pc <= PcOutNorm;
          else begin
            layer <= layer + 1;
            pc <= PcNorm1;
          end
          PcHead: state <= SIdle;
          default: pc <= pc + 1;
        endcase
      end
      SDispatch: begin
        i <= 0;
        j <= 0;
        block <= 0;
        group <= 0;
        row_in_block <= 0;
        case (pc)
          PcNorm1, PcNorm2, PcOutNorm: begin
            norm_weight_base <= pc == PcNorm1 ? AttnNormBase + layer * HIDDEN :
                pc == PcNorm2 ? FfnNormBase + layer * HIDDEN : OutNormBase;
            quant_address <= XBase;
            quant_length <= HIDDEN;
            quant_to <= ToNormCodes;
            state <= SQuantClear;
          end
          PcQ, PcK, PcV, PcO, PcGate, PcUp, PcDown, PcHead: begin
            state <= SMatClear;
            matrix <= pc == PcHead ? 1 + 7 * LAYERS : 1 + 7 * layer + (
                pc == PcQ ? 0 : pc == PcK ? 1 : pc == PcV ? 2 : pc == PcO ? 3 :
                pc == PcGate ? 4 : pc == PcUp ? 5 : 6);
            rows_to <= pc == PcHead ? RowsToLogits :
                pc == PcO || pc == PcDown ? RowsToResidual : RowsToAct;
            rows_base <= pc == PcQ ? QBase : pc == PcK ? KBase : pc == PcV ? VBase :
                pc == PcGate ? GateBase : pc == PcUp ? UpBase : XBase;
          end
          PcRope: state <= SRope;
          PcKv: begin
            quant_address <= (step[0] ? VBase : KBase) + step / 2 * HEAD_DIM;
            quant_length <= HEAD_DIM;
            quant_to <= step[0] ? ToValueCache : ToKeyCache;
            quant_to_base <= step / 2;
            state <= SQuantClear;
          end
          PcHeadQuery: begin
            quant_address <= QBase + head * HEAD_DIM;
            quant_length <= HEAD_DIM;
            quant_to <= ToHeadQuery;
            state <= SQuantClear;
          end
          PcHeadAttend: state <= SScoreClear;
          PcAttQuant, PcFfnQuant: begin
            quant_address <= pc == PcAttQuant ? AttBase : GateBase;
            quant_length <= pc == PcAttQuant ? QDim : FFN;
            quant_to <= ToMatrixInput;
            state <= SQuantClear;
          end
          PcSwiglu: state <= SSwiglu;
          default: state <= SAdvance;
        endcase
      end

      // Quantize quant_length words from quant_address: the max pass, then the codes.
      SQuantClear: state <= SQuantMax;
      SQuantMax: begin
        i <= i + ELEMENT_LANES;
        if (last_elements) begin
          i <= 0;
          state <= SQuantApply;
        end
      end
      SQuantApply: begin
        for (int l = 0; l < ELEMENT_LANES; l = l + 1)
          if (lane_on[l])
            case (quant_to)
              ToNormCodes:
              norm_codes[element_index[l][HiddenBits-1:0]] <= quant_codes[l*16+:16];
              ToMatrixInput: matrix_input[element_index[l]*16+:16] <= quant_codes[l*16+:16];
              ToHeadQuery:
              head_query[element_index[l][LaneBits-1:0]*16+:16] <= quant_codes[l*16+:16];
              default: ;
            endcase
        if (quant_to == ToMatrixInput) matrix_input_scale <= quant_scale;
        if (quant_to == ToHeadQuery) head_query_scale <= quant_scale;
        i <= i + ELEMENT_LANES;
        if (last_elements) begin
          i <= 0;
          state <= quant_to == ToNormCodes ? SNormGain : SAdvance;
        end
      end
      SNormGain: begin
        gain_reg <= gain;
        state <= SNormElement;
      end
      SNormElement: begin
        for (int l = 0; l < ELEMENT_LANES; l = l + 1)
          if (lane_on[l]) act[norm_address[l][ActBits-1:0]] <= norm_y[l];
        i <= i + ELEMENT_LANES;
        if (last_elements) begin
          i <= 0;
          quant_address <= NormBase;
          quant_length <= HIDDEN;
          quant_to <= ToMatrixInput;
          state <= SQuantClear;
        end
      end

      // A product: per block of ROWS rows, every group into the tile, then the rows out.
      SMatClear: state <= SMatGroup;
      SMatGroup: begin
        group <= group + 1;
        if (group == mat_groups - 1) begin
          group <= 0;
          row_in_block <= 0;
          state <= SMatOut;
        end
      end
      SMatOut: begin
        for (int l = 0; l < LANES; l = l + 1)
          if (l < rows_left && rows_to != RowsToLogits)
            act[lane_write_address[l][ActBits-1:0]] <=
                rows_to == RowsToResidual ? lane_residual[l] : lane_biased[l];
        row_in_block <= row_in_block + LANES;
        if (row_in_block == ROWS - LANES || last_rows) begin
          block <= block + 1;
          state <= last_rows ? SAdvance : SMatClear;
        end
      end

      SRope: begin
        for (int l = 0; l < RopeLanes; l = l + 1)
          if (lane_on[l]) begin
            act[rope_a[l][ActBits-1:0]] <= rope_a_out[l];
            act[rope_b[l][ActBits-1:0]] <= rope_b_out[l];
          end
        i <= i + RopeLanes;
        if (last_elements) state <= SAdvance;
      end

      // Scores against positions 0..pos, softmax's three passes, the value sum, the outputs.
      SScoreClear: state <= SScoreDot;
      SScoreDot: state <= SScoreRead;
      SScoreRead: begin
        scores[j[ContextBits-1:0]] <= score;
        j <= j + 1;
        state <= SScoreDot;
        if (j == pos) begin
          j <= 0;
          state <= SSoftmax0;
        end
      end
      SSoftmax0, SSoftmax1, SSoftmax2: begin
        if (state == SSoftmax2) weight_codes[j[ContextBits-1:0]] <= weight_code;
        j <= j + 1;
        if (j == pos) begin
          j <= 0;
          state <= state == SSoftmax0 ? SSoftmax1 : state == SSoftmax1 ? SSoftmax2 : SValueSum;
        end
      end
      SValueSum: begin
        j <= j + 1;
        if (j == pos) begin
          j <= 0;
          state <= SValueOut;
        end
      end
      SValueOut: begin
        for (int l = 0; l < ELEMENT_LANES; l = l + 1)
          if (lane_on[l]) act[attention_address[l][ActBits-1:0]] <= attention_out[l];
        i <= i + ELEMENT_LANES;
        if (last_elements) state <= SAdvance;
      end

      SSwiglu: begin
        for (int l = 0; l < ELEMENT_LANES; l = l + 1)
          if (lane_on[l]) act[swiglu_gate_address[l][ActBits-1:0]] <= swiglu_out[l];
        i <= i + ELEMENT_LANES;
        if (last_elements) state <= SAdvance;
      end
      default: state <= SIdle;
    endcase
  end

  initial state = SIdle;
endmodule
/* verilator lint_on UNUSEDSIGNAL */
