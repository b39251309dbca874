// The contract's matrix output element: float(acc) * (row_scale * x_scale), binary32.
// Combinational: latency 0.
module msa_output (
    input  logic signed [63:0] acc,
    input  logic        [31:0] row_scale,
    input  logic        [31:0] x_scale,
    output logic        [31:0] result
);
  logic [31:0] acc_float, scale;
  fp32_from_int64 to_float (
      .value(acc),
      .result(acc_float)
  );
  fp32_mul scales (
      .a(row_scale),
      .b(x_scale),
      .result(scale)
  );
  fp32_mul scale_acc (
      .a(acc_float),
      .b(scale),
      .result(result)
  );
endmodule
