// The contract's softmax weights of one attention head over its cached positions, streaming
// one position per cycle in three passes (pass, with valid high for each position):
//   pass 0: m = max score_j (the first score, then every later one that is greater);
//   pass 1: e_j = exp_unit(score_j - m), S = sum e_j (64 bits), w_j = float(e_j) * sv_j into
//           the quantizer's max pass;
//   pass 2: w_j again (the same inputs give the same w_j), weight_code = its quantized code.
// step = ws / float(S), with ws the quantizer's scale; the attention output is then
// out_i = float(sum_j weight_code_j * v_ji) * step (dot_accumulator, attention_value).
// clear (synchronous) starts a new head. Latency: m and S are registered (valid the cycle after
// the pass); weight_code is combinational from score and v_scale in pass 2 (0 cycles).
module softmax_weights #(
    parameter TABLE_FILE = "exp_table.mem"
) (
    input  logic               clk,
    input  logic               clear,
    input  logic               valid,
    input  logic        [ 1:0] pass,
    input  logic        [31:0] score,
    input  logic        [31:0] v_scale,
    output logic signed [15:0] weight_code,
    output logic        [31:0] step
);
  logic [31:0] m;
  logic have_max, greater;
  logic signed [63:0] total;
  fp32_greater compare (
      .a(score),
      .b(m),
      .greater(greater)
  );
  always_ff @(posedge clk) begin
    if (clear) begin
      have_max <= 1'b0;
      m <= 32'd0;
    end else if (valid && pass == 2'd0 && (!have_max || greater)) begin
      have_max <= 1'b1;
      m <= score;
    end
  end

  logic [31:0] difference, e_float, w, total_float, w_scale;
  logic [16:0] e;
  fp32_add subtract_max (
      .a(score),
      .b({~m[31], m[30:0]}),
      .result(difference)
  );
  exp_unit #(.TABLE_FILE(TABLE_FILE)) exp_score (
      .d(difference),
      .e(e)
  );
  fp32_from_int64 e_to_float (
      .value({47'd0, e}),
      .result(e_float)
  );
  fp32_mul weight (
      .a(e_float),
      .b(v_scale),
      .result(w)
  );
  always_ff @(posedge clk) begin
    if (clear) total <= 64'sd0;
    else if (valid && pass == 2'd1) total <= total + {47'd0, e};
  end

  act_quantizer quantize_weights (
      .clk(clk),
      .clear(clear),
      .max_valid(valid && pass == 2'd1),
      .x(w),
      .q(weight_code),
      .scale(w_scale)
  );
  fp32_from_int64 total_to_float (
      .value(total),
      .result(total_float)
  );
  fp32_div step_div (
      .a(w_scale),
      .b(total_float),
      .result(step)
  );
endmodule
