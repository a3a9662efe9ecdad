# A call's sole generator argument takes the call's parentheses, comments and all.
x = sum(  # a comment (with parens
    v for v in range(3)
)
y = list(
    # leading comment
    v * 2 for v in range(3)  # trailing
    # another
)
z = any(v for v in () )
w = tuple( \
    v for v in "ab" \
)
