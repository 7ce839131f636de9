"""Argument checks shared by the layers' constructors (readable TypeErrors before any work)."""
import numbers

import numpy as np


def is_int(v):
    """True for Python and NumPy integers (bool excluded)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def check_bool(who, name, value, hint=''):
    """`value` must be a bool (Python or NumPy); otherwise a TypeError with `hint` appended."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a bool, got {value!r} "
                        f"({type(value).__name__}).{hint}")


def check_size(who, name, value, hint='', allow_none=False, minimum=1):
    """`value` must be an int >= minimum (or None when allow_none)."""
    if value is None and allow_none:
        return
    if not is_int(value) or value < minimum:
        kind = 'a positive int' if minimum == 1 else f'an int >= {minimum}'
        if allow_none:
            kind += ' or None'
        raise TypeError(f"{who}: {name} must be {kind}, got {value!r} "
                        f"({type(value).__name__}).{hint}")


def check_pair(who, name, value, hint='', minimum=1):
    """`value` must be an int >= minimum or a pair of them (kernel_size, stride, pad)."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    if isinstance(value, (tuple, list)) and len(value) != 2 or \
            not all(is_int(v) and v >= minimum for v in items):
        raise TypeError(f"{who}: {name} must be an int >= {minimum} or a pair of them, got "
                        f"{value!r}.{hint}")


def check_float_dtype(who, dtype, hint=''):
    """`dtype` must name a floating dtype (np.float32, 'float64', ...)."""
    try:
        ok = np.dtype(dtype).kind == 'f'
    except TypeError:
        ok = False
    if not ok:
        raise TypeError(f"{who}: dtype must be a floating dtype such as np.float32, got "
                        f"{dtype!r}.{hint}")
