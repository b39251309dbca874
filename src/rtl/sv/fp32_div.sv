// IEEE binary32 divide a / b, round to nearest even, one rounding. Handles zeros, subnormals,
// infinities and NaN (0/0, inf/inf and NaN inputs give 0x7FC00000; x/0 gives a signed
// infinity). The quotient is formed to 28 bits by restoring division, one compare-and-subtract
// of the 24-bit divisor per bit, with the remainder as sticky bit: a 51-bit integer division
// written with `/` (and its check by multiplication) gave the same bits but a circuit Yosys's
// ABC did not map in an hour. Combinational: latency 0.
module fp32_div (
    input  logic [31:0] a,
    input  logic [31:0] b,
    output logic [31:0] result
);
  logic sign_a, sign_b, zero_a, zero_b, inf_a, inf_b, nan_a, nan_b;
  logic signed [11:0] exp_a, exp_b;
  logic [23:0] sig_a, sig_b;
  fp32_unpack unpack_a (
      .value(a),
      .sign(sign_a),
      .exponent(exp_a),
      .significand(sig_a),
      .is_zero(zero_a),
      .is_inf(inf_a),
      .is_nan(nan_a)
  );
  fp32_unpack unpack_b (
      .value(b),
      .sign(sign_b),
      .exponent(exp_b),
      .significand(sig_b),
      .is_zero(zero_b),
      .is_inf(inf_b),
      .is_nan(nan_b)
  );

  logic sign;
  // Normalized significands (unpack puts the leading one at bit 23) give a quotient
  // sig_a * 2^27 / sig_b in (2^26, 2^28): bits 27 down to 0, the remainder below 2^25.
  logic [27:0] quotient;
  logic [24:0] remainder;
  logic inexact;
  logic top;
  logic [26:0] sig;
  logic signed [11:0] exponent;
  logic [31:0] rounded;
  integer k;
  assign sign = sign_a ^ sign_b;
  always_comb begin
    remainder = {1'b0, sig_a};
    quotient = 28'd0;
    for (k = 27; k >= 0; k = k - 1) begin
      quotient = {quotient[26:0], remainder >= {1'b0, sig_b}};
      if (quotient[0]) remainder = remainder - {1'b0, sig_b};
      remainder = remainder << 1;
    end
  end
  assign inexact = remainder != 25'd0;
  assign top = quotient[27];
  assign sig = top ? {quotient[27:2], |quotient[1:0] | inexact}
                   : {quotient[26:1], quotient[0] | inexact};
  assign exponent = exp_a - exp_b + 12'sd126 + {11'd0, top};
  fp32_round_pack pack (
      .sign(sign),
      .exponent(exponent),
      .sig(sig),
      .result(rounded)
  );

  always_comb begin
    if (nan_a || nan_b || (zero_a && zero_b) || (inf_a && inf_b)) result = 32'h7FC00000;
    else if (inf_a || zero_b) result = {sign, 8'hFF, 23'd0};
    else if (zero_a || inf_b) result = {sign, 31'd0};
    else result = rounded;
  end
endmodule
