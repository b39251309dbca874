// The contract's activation quantizer, streaming one element per cycle in two passes over a
// vector: the max pass (max_valid high) keeps amax = max |x_i| over non-NaN elements; the
// quantize pass then presents each x_i and reads q_i in the same cycle. From amax:
// inv = 32767 / amax, scale = amax / 32767; amax == 0 or an infinite inv gives q = 0, scale 0;
// else q = clamp(round_even(x * inv), -32767, 32767) with a NaN product giving 0.
// clear (synchronous) starts a new vector. Latency: amax is registered (the scale is valid the
// cycle after the last max-pass element); q is combinational from x (0 cycles).
module act_quantizer (
    input  logic               clk,
    input  logic               clear,
    input  logic               max_valid,
    input  logic        [31:0] x,
    output logic signed [15:0] q,
    output logic        [31:0] scale
);
  localparam logic [31:0] CodeMax = 32'h46FFFE00;  // 32767.0f
  logic [31:0] amax;
  logic x_nan;
  assign x_nan = x[30:23] == 8'hFF && x[22:0] != 23'd0;
  always_ff @(posedge clk) begin
    if (clear) amax <= 32'd0;
    // Non-negative binary32 values order as their bit patterns.
    else if (max_valid && !x_nan && x[30:0] > amax[30:0]) amax <= {1'b0, x[30:0]};
  end

  logic [31:0] inv, amax_scale, product;
  logic signed [15:0] code;
  logic off;
  fp32_div inverse (
      .a(CodeMax),
      .b(amax),
      .result(inv)
  );
  fp32_div step (
      .a(amax),
      .b(CodeMax),
      .result(amax_scale)
  );
  fp32_mul apply (
      .a(x),
      .b(inv),
      .result(product)
  );
  fp32_to_code to_code (
      .value(product),
      .code(code)
  );
  assign off = amax == 32'd0 || inv == 32'h7F800000;
  assign q = off ? 16'sd0 : code;
  assign scale = off ? 32'd0 : amax_scale;
endmodule
