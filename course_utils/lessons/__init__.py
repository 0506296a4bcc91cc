"""Exercises: the checking machinery and each lesson's exercises.

``from course_utils.lessons import lesson02`` then ``lesson02.<exercise>.check(...)``.

* :mod:`~course_utils.lessons.exercises`  checks with feedback, hints and solutions (``Exercise``, ``expect``)
* ``lessonNN``                            one module per notebook (``lessonNN.py`` for ``notebooks/NN_*.ipynb``);
  exercise ids are ``"NN.k"``
* :mod:`~course_utils.lessons.exercise_models`  models some exercises are about (re-exported by their lesson)
* ``_answers``                            loading and running a learner's answer (package-private)

May import: every part except :mod:`course_utils.views`. Nothing in the library imports a lesson.
"""
