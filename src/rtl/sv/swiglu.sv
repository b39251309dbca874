// The contract's SwiGLU element: with e = exp_unit(-|g|) (one exp unit serves both signs),
// sig = 65536 / (65536 + float(e)) for g >= 0, else float(e) / (65536 + float(e));
// result = (g * sig) * u. Combinational: latency 0.
module swiglu #(
    parameter TABLE_FILE = "exp_table.mem"
) (
    input  logic [31:0] g,
    input  logic [31:0] u,
    output logic [31:0] result
);
  localparam logic [31:0] Unity = 32'h47800000;  // 65536.0f
  logic [16:0] e;
  logic [31:0] e_float, denominator, numerator, sig, gated;
  logic non_negative;  // g >= 0 in binary32: false for NaN, true for -0
  exp_unit #(.TABLE_FILE(TABLE_FILE)) exp_neg_abs (
      .d({1'b1, g[30:0]}),
      .e(e)
  );
  fp32_from_int64 to_float (
      .value({47'd0, e}),
      .result(e_float)
  );
  fp32_add add_unity (
      .a(Unity),
      .b(e_float),
      .result(denominator)
  );
  assign non_negative = g[30:0] == 31'd0 || (!g[31] && !(g[30:23] == 8'hFF && g[22:0] != 23'd0));
  assign numerator = non_negative ? Unity : e_float;
  fp32_div ratio (
      .a(numerator),
      .b(denominator),
      .result(sig)
  );
  fp32_mul gate (
      .a(g),
      .b(sig),
      .result(gated)
  );
  fp32_mul up (
      .a(gated),
      .b(u),
      .result(result)
  );
endmodule
