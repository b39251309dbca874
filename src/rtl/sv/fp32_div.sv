// IEEE binary32 divide a / b, round to nearest even, one rounding. Handles zeros, subnormals,
// infinities and NaN (0/0, inf/inf and NaN inputs give 0x7FC00000; x/0 gives a signed
// infinity). The quotient is formed to 28 bits with the remainder as sticky bit, written as
// one integer division for clarity (a chip would iterate it). Combinational: latency 0.
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
  logic [50:0] dividend;
  logic [50:0] quotient;  // in (2^26, 2^28) for normalized operands
  logic inexact;
  logic top;
  logic [26:0] sig;
  logic signed [11:0] exponent;
  logic [31:0] rounded;
  assign sign = sign_a ^ sign_b;
  assign dividend = {sig_a, 27'd0};
  assign quotient = sig_b == 24'd0 ? 51'd0 : dividend / {27'd0, sig_b};
  assign inexact = quotient * {27'd0, sig_b} != dividend;
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
