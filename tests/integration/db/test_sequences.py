from db.sequences import allocate_numbers


def test_student_numbers_are_consecutive_and_never_reused(session):
    first = allocate_numbers(session, "test_counter", 3, start=500)
    second = allocate_numbers(session, "test_counter", 2)
    assert list(first) == [500, 501, 502]
    assert list(second) == [503, 504]
