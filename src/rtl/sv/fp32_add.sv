// IEEE binary32 add, round to nearest even, one rounding; a - b is fp32_add(a, b ^ 32'h80000000).
// Handles zeros (x + -x = +0), subnormals, infinities and NaN (inf - inf and NaN inputs give
// 0x7FC00000). The smaller operand is aligned with guard, round and sticky bits, which keeps
// the single rounding exact. Combinational: latency 0.
module fp32_add (
    input  logic [31:0] a,
    input  logic [31:0] b,
    output logic [31:0] result
);
  logic sign_a, sign_b, inf_a, inf_b, nan_a, nan_b;
  logic signed [11:0] exp_a, exp_b;
  logic [23:0] sig_a, sig_b;
  // Zero operands need no flag here: an exact zero shows as a zero sum.
  /* verilator lint_off PINCONNECTEMPTY */
  fp32_unpack unpack_a (
      .value(a),
      .sign(sign_a),
      .exponent(exp_a),
      .significand(sig_a),
      .is_zero(),
      .is_inf(inf_a),
      .is_nan(nan_a)
  );
  fp32_unpack unpack_b (
      .value(b),
      .sign(sign_b),
      .exponent(exp_b),
      .significand(sig_b),
      .is_zero(),
      .is_inf(inf_b),
      .is_nan(nan_b)
  );
  /* verilator lint_on PINCONNECTEMPTY */

  // The operand of larger magnitude leads; its exponent is never below the other's.
  logic swap;
  logic sign_big, sign_small, subtract;
  logic signed [11:0] exp_big, exp_small, distance;
  logic [23:0] sig_big, sig_small;
  logic [4:0] shift;
  logic [53:0] small_shifted;
  logic [27:0] big_ext, small_ext, sum, normalized;
  logic [4:0] zeros;
  logic [26:0] sig;
  logic signed [11:0] exponent;
  logic [31:0] rounded;

  assign swap = b[30:0] > a[30:0];
  assign sign_big = swap ? sign_b : sign_a;
  assign sign_small = swap ? sign_a : sign_b;
  assign exp_big = swap ? exp_b : exp_a;
  assign exp_small = swap ? exp_a : exp_b;
  assign sig_big = swap ? sig_b : sig_a;
  assign sig_small = swap ? sig_a : sig_b;
  assign subtract = sign_big ^ sign_small;
  assign distance = exp_big - exp_small;
  // Every distance of 27 or more leaves only sticky bits: the same result as 27.
  assign shift = distance > 12'sd27 ? 5'd27 : distance[4:0];
  assign small_shifted = {sig_small, 3'd0, 27'd0} >> shift;
  assign big_ext = {1'b0, sig_big, 3'd0};
  assign small_ext = {1'b0, small_shifted[53:28], |small_shifted[27:0]};
  assign sum = subtract ? big_ext - small_ext : big_ext + small_ext;

  lzc #(.W(28)) sum_lzc (
      .value(sum),
      .count(zeros)
  );
  assign normalized = sum << zeros;
  assign sig = {normalized[27:2], |normalized[1:0]};
  assign exponent = exp_big + 12'sd1 - {7'd0, zeros};
  fp32_round_pack pack (
      .sign(sign_big),
      .exponent(exponent),
      .sig(sig),
      .result(rounded)
  );

  always_comb begin
    if (nan_a || nan_b || (inf_a && inf_b && sign_a != sign_b)) result = 32'h7FC00000;
    else if (inf_a) result = a;
    else if (inf_b) result = b;
    else if (sum == 28'd0) result = {sign_a & sign_b, 31'd0};  // exact zero: +0 unless -0 + -0
    else result = rounded;
  end
endmodule
