// The contract's attention score of a query (codes q, scale sq) and one cached key (k, sk):
// float(dot) * (sq * sk) * inv_sqrt_dim, the dot exact in 64 bits. The dot streams LANES code
// pairs per cycle into a dot_accumulator (clear first); the binary32 tail is combinational from
// the accumulator. Latency: 1 cycle after the last pair.
module attention_score #(
    parameter int LANES = 8
) (
    input  logic                      clk,
    input  logic                      clear,
    input  logic                      valid,
    input  logic        [LANES*16-1:0] q,
    input  logic        [LANES*16-1:0] k,
    input  logic        [       31:0] q_scale,
    input  logic        [       31:0] k_scale,
    input  logic        [       31:0] inv_sqrt_dim,
    output logic        [       31:0] score
);
  logic signed [63:0] dot;
  logic [31:0] scaled;
  dot_accumulator #(.LANES(LANES)) products (
      .clk(clk),
      .clear(clear),
      .valid(valid),
      .a(q),
      .b(k),
      .acc(dot)
  );
  // float(dot) * (sq * sk) is the matrix output element's formula.
  msa_output scale_dot (
      .acc(dot),
      .row_scale(q_scale),
      .x_scale(k_scale),
      .result(scaled)
  );
  fp32_mul apply_dim (
      .a(scaled),
      .b(inv_sqrt_dim),
      .result(score)
  );
endmodule
