// Rounds a positive significand to binary32, round to nearest, ties to even, and packs it with
// its sign. Every binary32 unit of the library ends here, so rounding, overflow to infinity and
// the gradual underflow into subnormals are written once.
//   value = sig * 2^(exponent - 153), sig[26] = 1 (the leading one), sig[25:3] the fraction,
//   sig[2] the guard bit, sig[1:0] any lower bits with every discarded bit ORed into sig[0].
// Combinational.
module fp32_round_pack (
    input  logic               sign,
    input  logic signed [11:0] exponent,
    input  logic        [26:0] sig,
    output logic        [31:0] result
);
  logic normal;
  logic signed [12:0] underflow;  // right shift that brings the value to the subnormal scale
  logic [4:0] shift;
  logic [53:0] shifted;
  // aligned[26] is the leading one, implicit in the packed format.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [26:0] aligned;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [7:0] field;
  logic round_up;
  logic [30:0] magnitude;

  assign normal = exponent > 12'sd0;
  assign underflow = 13'sd1 - {exponent[11], exponent};
  // Every shift of 27 or more leaves only sticky bits: the same result as 27.
  assign shift = normal ? 5'd0 : underflow > 13'sd27 ? 5'd27 : underflow[4:0];
  assign field = normal ? exponent[7:0] : 8'd0;
  assign shifted = {sig, 27'd0} >> shift;
  assign aligned = {shifted[53:28], |shifted[27:0]};
  assign round_up = aligned[2] & (aligned[3] | (|aligned[1:0]));
  // A carry out of the fraction increments the exponent field: a subnormal becomes the
  // smallest normal and the largest finite value becomes infinity, as IEEE requires.
  assign magnitude = {field, aligned[25:3]} + {30'd0, round_up};
  assign result = exponent >= 12'sd255 ? {sign, 8'hFF, 23'd0} : {sign, magnitude};
endmodule
