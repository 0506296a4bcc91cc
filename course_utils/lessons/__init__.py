"""Each lesson's exercises: ``from course_utils.lessons import lesson02`` then ``lesson02.<exercise>.check(...)``.

One module per notebook (``lessonNN.py`` for ``notebooks/NN_*.ipynb``); exercise ids are ``"NN.k"``.
"""
