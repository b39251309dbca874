// Test top: every combinational unit of the library side by side, each on its own inputs, so
// one Verilator model serves all scalar tests.
module rtl_scalar_units #(
    parameter TABLE_FILE = "exp_table.mem"
) (
    input  logic        [31:0] a,
    input  logic        [31:0] b,
    input  logic        [31:0] c,
    input  logic        [31:0] d,
    input  logic signed [63:0] integer_in,
    input  logic signed [15:0] code_in,
    output logic        [31:0] mul,
    output logic        [31:0] add,
    output logic        [31:0] div,
    output logic        [31:0] sqrt,
    output logic        [31:0] from_int64,
    output logic signed [15:0] to_code,
    output logic        [16:0] exp,
    output logic        [31:0] swiglu_out,
    output logic        [31:0] msa_out,
    output logic        [31:0] rms_gain,
    output logic        [31:0] rms_element,
    output logic        [31:0] rope_a,
    output logic        [31:0] rope_b
);
  fp32_mul u_mul (
      .a(a),
      .b(b),
      .result(mul)
  );
  fp32_add u_add (
      .a(a),
      .b(b),
      .result(add)
  );
  fp32_div u_div (
      .a(a),
      .b(b),
      .result(div)
  );
  fp32_sqrt u_sqrt (
      .a(a),
      .result(sqrt)
  );
  fp32_from_int64 u_from_int64 (
      .value(integer_in),
      .result(from_int64)
  );
  fp32_to_code u_to_code (
      .value(a),
      .code(to_code)
  );
  exp_unit #(.TABLE_FILE(TABLE_FILE)) u_exp (
      .d(a),
      .e(exp)
  );
  swiglu #(.TABLE_FILE(TABLE_FILE)) u_swiglu (
      .g(a),
      .u(b),
      .result(swiglu_out)
  );
  msa_output u_msa_output (
      .acc(integer_in),
      .row_scale(a),
      .x_scale(b),
      .result(msa_out)
  );
  rms_norm_scale u_rms_norm_scale (
      .sum_squares(integer_in),
      .length(c),
      .scale(a),
      .eps(b),
      .gain(rms_gain)
  );
  rms_norm_element u_rms_norm_element (
      .code(code_in),
      .gain(a),
      .weight(b),
      .result(rms_element)
  );
  rope_pair u_rope_pair (
      .a(a),
      .b(b),
      .cos(c),
      .sin(d),
      .a_rotated(rope_a),
      .b_rotated(rope_b)
  );
endmodule
