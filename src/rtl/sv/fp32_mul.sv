// IEEE binary32 multiply, round to nearest even, one rounding. Handles zeros, subnormal inputs
// and results, infinities and NaN (inf * 0 and NaN inputs give the quiet NaN 0x7FC00000; NaN
// payloads are not propagated). Combinational: latency 0.
module fp32_mul (
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
  logic [47:0] product;  // in [2^46, 2^48) for normalized inputs
  logic carry;
  logic [26:0] sig;
  logic signed [11:0] exponent;
  logic [31:0] rounded;
  assign sign = sign_a ^ sign_b;
  assign product = sig_a * sig_b;
  assign carry = product[47];
  assign sig = carry ? {product[47:22], |product[21:0]} : {product[46:21], |product[20:0]};
  assign exponent = exp_a + exp_b - 12'sd127 + {11'd0, carry};
  fp32_round_pack pack (
      .sign(sign),
      .exponent(exponent),
      .sig(sig),
      .result(rounded)
  );

  always_comb begin
    if (nan_a || nan_b || (inf_a && zero_b) || (zero_a && inf_b)) result = 32'h7FC00000;
    else if (inf_a || inf_b) result = {sign, 8'hFF, 23'd0};
    else if (zero_a || zero_b) result = {sign, 31'd0};
    else result = rounded;
  end
endmodule
