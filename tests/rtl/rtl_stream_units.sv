// Test top: the streaming units of the library, each on its own inputs, in one Verilator model.
module rtl_stream_units #(
    parameter int LANES = 4,
    parameter TABLE_FILE = "exp_table.mem"
) (
    input  logic                      clk,
    // act_quantizer
    input  logic                      quant_clear,
    input  logic                      quant_max_valid,
    input  logic        [       31:0] quant_x,
    output logic signed [       15:0] quant_q,
    output logic        [       31:0] quant_scale,
    // act_quantizer with LANES lanes
    input  logic                      quant_lanes_clear,
    input  logic                      quant_lanes_max_valid,
    input  logic        [LANES*32-1:0] quant_lanes_x,
    output logic        [LANES*16-1:0] quant_lanes_q,
    output logic        [       31:0] quant_lanes_scale,
    // dot_accumulator
    input  logic                      dot_clear,
    input  logic                      dot_valid,
    input  logic        [LANES*16-1:0] dot_a,
    input  logic        [LANES*16-1:0] dot_b,
    output logic signed [       63:0] dot_acc,
    // attention_score
    input  logic                      score_clear,
    input  logic                      score_valid,
    input  logic        [LANES*16-1:0] score_q,
    input  logic        [LANES*16-1:0] score_k,
    input  logic        [       31:0] score_q_scale,
    input  logic        [       31:0] score_k_scale,
    input  logic        [       31:0] score_inv_sqrt_dim,
    output logic        [       31:0] score,
    // softmax_weights
    input  logic                      soft_clear,
    input  logic                      soft_valid,
    input  logic        [        1:0] soft_pass,
    input  logic        [       31:0] soft_score,
    input  logic        [       31:0] soft_v_scale,
    output logic signed [       15:0] soft_weight_code,
    output logic        [       31:0] soft_step,
    // attention_value
    input  logic signed [       63:0] value_acc,
    input  logic        [       31:0] value_step,
    output logic        [       31:0] value_out
);
  act_quantizer u_quantizer (
      .clk(clk),
      .clear(quant_clear),
      .max_valid(quant_max_valid),
      .x(quant_x),
      .q(quant_q),
      .scale(quant_scale)
  );
  act_quantizer #(.LANES(LANES)) u_quantizer_lanes (
      .clk(clk),
      .clear(quant_lanes_clear),
      .max_valid(quant_lanes_max_valid),
      .x(quant_lanes_x),
      .q(quant_lanes_q),
      .scale(quant_lanes_scale)
  );
  dot_accumulator #(.LANES(LANES)) u_dot (
      .clk(clk),
      .clear(dot_clear),
      .valid(dot_valid),
      .a(dot_a),
      .b(dot_b),
      .acc(dot_acc)
  );
  attention_score #(.LANES(LANES)) u_score (
      .clk(clk),
      .clear(score_clear),
      .valid(score_valid),
      .q(score_q),
      .k(score_k),
      .q_scale(score_q_scale),
      .k_scale(score_k_scale),
      .inv_sqrt_dim(score_inv_sqrt_dim),
      .score(score)
  );
  softmax_weights #(.TABLE_FILE(TABLE_FILE)) u_softmax (
      .clk(clk),
      .clear(soft_clear),
      .valid(soft_valid),
      .pass(soft_pass),
      .score(soft_score),
      .v_scale(soft_v_scale),
      .weight_code(soft_weight_code),
      .step(soft_step)
  );
  attention_value u_value (
      .acc(value_acc),
      .step(value_step),
      .result(value_out)
  );
endmodule
