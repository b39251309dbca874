// RMSNorm's scalar part in the contract: from the sum of squares ss of the input's codes, its
// length n, its quantizer scale s and eps:
//   a = float(ss) / float(n); b = a * (s * s); r = sqrt(b + eps); inv = 1 / r; gain = s * inv.
// Each element is then y_i = (float(q_i) * gain) * w_i (rms_norm_element) and quantized again.
// Combinational: latency 0.
module rms_norm_scale (
    input  logic signed [63:0] sum_squares,
    input  logic        [31:0] length,
    input  logic        [31:0] scale,
    input  logic        [31:0] eps,
    output logic        [31:0] gain
);
  localparam logic [31:0] One = 32'h3F800000;
  logic [31:0] ss_float, n_float, mean, scale_sq, variance, shifted, root, inverse;
  fp32_from_int64 ss_to_float (
      .value(sum_squares),
      .result(ss_float)
  );
  fp32_from_int64 n_to_float (
      .value({32'd0, length}),
      .result(n_float)
  );
  fp32_div mean_div (
      .a(ss_float),
      .b(n_float),
      .result(mean)
  );
  fp32_mul scale_square (
      .a(scale),
      .b(scale),
      .result(scale_sq)
  );
  fp32_mul rescale (
      .a(mean),
      .b(scale_sq),
      .result(variance)
  );
  fp32_add add_eps (
      .a(variance),
      .b(eps),
      .result(shifted)
  );
  fp32_sqrt root_unit (
      .a(shifted),
      .result(root)
  );
  fp32_div reciprocal (
      .a(One),
      .b(root),
      .result(inverse)
  );
  fp32_mul gain_mul (
      .a(scale),
      .b(inverse),
      .result(gain)
  );
endmodule
