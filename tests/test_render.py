def test_format_flops_picks_a_decimal_unit():
    from course_utils.onnxfile.render import format_flops

    assert format_flops(675_072) == "675 kFLOP"
    assert format_flops(3_630_000_000) == "3.63 GFLOP"
    assert format_flops(12) == "12 FLOP" and format_flops(2_500_000) == "2.5 MFLOP"
