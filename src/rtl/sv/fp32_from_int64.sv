// Signed 64-bit integer to IEEE binary32, round to nearest even (exact below 2^24 in
// magnitude). Combinational: latency 0.
module fp32_from_int64 (
    input  logic signed [63:0] value,
    output logic        [31:0] result
);
  logic [63:0] magnitude, normalized;
  logic [6:0] zeros;
  logic [31:0] rounded;
  assign magnitude = value[63] ? -value : value;  // -2^63 stays 2^63 as an unsigned magnitude
  lzc #(.W(64)) magnitude_lzc (
      .value(magnitude),
      .count(zeros)
  );
  assign normalized = magnitude << zeros;
  fp32_round_pack pack (
      .sign(value[63]),
      .exponent(12'sd190 - {5'd0, zeros}),
      .sig({normalized[63:38], |normalized[37:0]}),
      .result(rounded)
  );
  assign result = value == 64'sd0 ? 32'd0 : rounded;
endmodule
