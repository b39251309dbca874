// The contract's activation quantizer, streaming LANES elements per cycle in two passes over a
// vector: the max pass (max_valid high) keeps amax = max |x_i| over non-NaN elements; the
// quantize pass then presents LANES elements x_i and reads their q_i in the same cycle. From
// amax: inv = 32767 / amax, scale = amax / 32767; amax == 0 or an infinite inv gives q = 0,
// scale 0; else q = clamp(round_even(x * inv), -32767, 32767) with a NaN product giving 0.
// Lane l is x[32l +: 32] and q[16l +: 16]; a vector whose length LANES does not divide fills
// its last cycle's unused lanes with +0, which changes neither amax nor any code. The maximum
// of magnitudes is exact (fp32_abs_max), so the lanes share one amax, one inv and one scale.
// clear (synchronous) starts a new vector. Latency: amax is registered (the scale is valid the
// cycle after the last max-pass element); q is combinational from x (0 cycles).
module act_quantizer #(
    parameter int LANES = 1
) (
    input  logic                clk,
    input  logic                clear,
    input  logic                max_valid,
    input  logic [LANES*32-1:0] x,
    output logic [LANES*16-1:0] q,
    output logic [        31:0] scale
);
  localparam logic [31:0] CodeMax = 32'h46FFFE00;  // 32767.0f
  logic [31:0] amax, next_amax;
  // amax is a non-negative non-NaN value, so taking it as one more lane keeps the running max.
  fp32_abs_max #(.LANES(LANES + 1)) running_max (
      .x({x, amax}),
      .result(next_amax)
  );
  always_ff @(posedge clk) begin
    if (clear) amax <= 32'd0;
    else if (max_valid) amax <= next_amax;
  end

  logic [31:0] inv, amax_scale;
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
  assign off = amax == 32'd0 || inv == 32'h7F800000;
  assign scale = off ? 32'd0 : amax_scale;
  genvar lane;
  generate
    for (lane = 0; lane < LANES; lane = lane + 1) begin : g_lane
      logic [31:0] product;
      logic signed [15:0] code;
      fp32_mul apply (
          .a(x[lane*32+:32]),
          .b(inv),
          .result(product)
      );
      fp32_to_code to_code (
          .value(product),
          .code(code)
      );
      assign q[lane*16+:16] = off ? 16'sd0 : code;
    end
  endgenerate
endmodule
