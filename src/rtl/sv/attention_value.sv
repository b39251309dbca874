// The contract's attention output element: float(acc) * step, where acc is the exact sum of
// weight codes times value codes (dot_accumulator) and step comes from softmax_weights.
// Combinational: latency 0.
module attention_value (
    input  logic signed [63:0] acc,
    input  logic        [31:0] step,
    output logic        [31:0] result
);
  logic [31:0] acc_float;
  fp32_from_int64 to_float (
      .value(acc),
      .result(acc_float)
  );
  fp32_mul scale (
      .a(acc_float),
      .b(step),
      .result(result)
  );
endmodule
