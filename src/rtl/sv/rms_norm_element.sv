// RMSNorm's per-element part in the contract: y = (float(q) * gain) * w, binary32.
// Combinational: latency 0.
module rms_norm_element (
    input  logic signed [15:0] code,
    input  logic        [31:0] gain,
    input  logic        [31:0] weight,
    output logic        [31:0] result
);
  logic [31:0] code_float, scaled;
  fp32_from_int64 to_float (
      .value({{48{code[15]}}, code}),
      .result(code_float)
  );
  fp32_mul apply_gain (
      .a(code_float),
      .b(gain),
      .result(scaled)
  );
  fp32_mul apply_weight (
      .a(scaled),
      .b(weight),
      .result(result)
  );
endmodule
