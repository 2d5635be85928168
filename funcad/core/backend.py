"""The one handle through which every forward implementation reaches its array library.

Rules and ops import ``xp`` from here instead of ``numpy`` so that an array library
with NumPy's API (CuPy, say) can be slotted in by rebinding one name.
"""

import numpy

xp = numpy
