// The contract's RoPE rotation of one pair: a' = a * cos - b * sin, b' = b * cos + a * sin,
// each product and sum one binary32 rounding. Combinational: latency 0.
module rope_pair (
    input  logic [31:0] a,
    input  logic [31:0] b,
    input  logic [31:0] cos,
    input  logic [31:0] sin,
    output logic [31:0] a_rotated,
    output logic [31:0] b_rotated
);
  logic [31:0] a_cos, b_sin, b_cos, a_sin;
  fp32_mul mul_a_cos (
      .a(a),
      .b(cos),
      .result(a_cos)
  );
  fp32_mul mul_b_sin (
      .a(b),
      .b(sin),
      .result(b_sin)
  );
  fp32_mul mul_b_cos (
      .a(b),
      .b(cos),
      .result(b_cos)
  );
  fp32_mul mul_a_sin (
      .a(a),
      .b(sin),
      .result(a_sin)
  );
  fp32_add subtract_pair (
      .a(a_cos),
      .b({~b_sin[31], b_sin[30:0]}),
      .result(a_rotated)
  );
  fp32_add add_pair (
      .a(b_cos),
      .b(a_sin),
      .result(b_rotated)
  );
endmodule
