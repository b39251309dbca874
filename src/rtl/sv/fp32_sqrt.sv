// IEEE binary32 square root, round to nearest even, one rounding. Handles zeros (sqrt(-0) = -0),
// subnormals, +inf, and NaN (NaN inputs and every negative non-zero input give 0x7FC00000).
// The root is formed to 27 bits digit by digit (restoring: two radicand bits and one
// compare-and-subtract per root bit), with the remainder as sticky bit; the same bits as
// squaring each trial root, without 27 multipliers.
// Combinational: latency 0.
module fp32_sqrt (
    input  logic [31:0] a,
    output logic [31:0] result
);
  logic sign, zero, inf, nan;
  logic signed [11:0] exp_a;
  logic [23:0] sig_a;
  fp32_unpack unpack_a (
      .value(a),
      .sign(sign),
      .exponent(exp_a),
      .significand(sig_a),
      .is_zero(zero),
      .is_inf(inf),
      .is_nan(nan)
  );

  // value = radicand * 2^(2 * (exponent - 153)) with an even power, so the root's exponent is
  // exact: radicand = sig << 29 for an odd biased exponent, sig << 30 for an even one.
  logic [53:0] radicand;
  logic [26:0] root;
  logic [29:0] remainder;  // radicand's bits so far - root^2 <= 2 root: below 2^28 after a step
  logic [29:0] trial;
  logic inexact;
  logic [26:0] sig;
  logic signed [11:0] exponent;
  logic [31:0] rounded;
  integer i;
  assign radicand = exp_a[0] ? {1'b0, sig_a, 29'd0} : {sig_a, 30'd0};
  always_comb begin
    root = 27'd0;
    remainder = 30'd0;
    for (i = 26; i >= 0; i = i - 1) begin
      remainder = {remainder[27:0], radicand[2*i+:2]};
      trial = {1'b0, root, 2'b01};
      root = {root[25:0], remainder >= trial};
      if (root[0]) remainder = remainder - trial;
    end
  end
  assign inexact = remainder != 30'd0;
  assign sig = {root[26:1], root[0] | inexact};
  assign exponent = (exp_a + 12'sd126 + {11'd0, exp_a[0]}) >>> 1;
  fp32_round_pack pack (
      .sign(1'b0),
      .exponent(exponent),
      .sig(sig),
      .result(rounded)
  );

  always_comb begin
    if (nan || (sign && !zero)) result = 32'h7FC00000;
    else if (zero || inf) result = a;
    else result = rounded;
  end
endmodule
