"""Zero to LLM course kit: instructor tools, the autograder and the TA tools.

The student-side code lives in the separate package ``coursekit_student`` (shipped
inside ``release/``); this package may import it, never the other way round.
"""

__version__ = "0.1.0"
