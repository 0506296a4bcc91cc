"""The models some lessons' exercises are about, one module per lesson (``lesson02``, ``lesson06``, ``lesson07``, ``lesson11``), each re-exported
by its lesson module (``course_utils.lessons.lesson02``): kept apart so a lesson module holds its exercises.

May import: what :mod:`course_utils.lessons` may import (every part except :mod:`course_utils.views`); never a
lesson module.
"""

__all__: list[str] = []  # a namespace of modules: import the module you need
