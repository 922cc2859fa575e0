"""The pure core of the fake: state, rules and records. No I/O, nothing imported from outside ``_core``."""
