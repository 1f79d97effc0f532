// The Python half of the embedded kernel (kernels/python/library.h): what is simpler said in
// Python than through the C API, none of it on the per-point path. Run once per process as the
// module `_sweep_kernel`.
#include "kernels/python/helpers.h"

namespace sweep::python {

const char kHelpersSource[] = R"PY(
import importlib.util
import inspect
import os
import sys
import traceback


class OutputError(Exception):
    """A value the function returned that its declared output cannot hold."""


def prepare_path(folders):
    """Puts `folders` first on sys.path, then the site-packages of the active virtualenv (the one
    `source venv/bin/activate` names in VIRTUAL_ENV), with its .pth files, when it is of this
    Python's version. Returns a warning for a virtualenv of another version, or None."""
    warning = None
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        version = "%d.%d" % sys.version_info[:2]
        site_packages = os.path.join(venv, "lib", "python" + version, "site-packages")
        if os.path.isdir(site_packages):
            import site
            site.addsitedir(site_packages)  # its .pth files, appended
            sys.path.remove(site_packages)
            sys.path.insert(0, site_packages)
        else:
            warning = ("the active virtualenv %s has no lib/python%s/site-packages: it is not of "
                       "the Python sweep embeds (%s), so its packages are not used"
                       % (venv, version, version))
    for folder in reversed(folders):
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)
    return warning


def load_model(path):
    """Imports the model's file as a module named after it (so pickle and multiprocessing in it
    find it again), without running its `if __name__ == "__main__":` block."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def keywords(function):
    """(the names it takes by keyword or None for any, the names it requires, the names it
    requires by position only)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: give it everything
        return None, [], []
    names, required, positional = [], [], []
    for p in signature.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            return None, required, positional
        if p.kind == p.VAR_POSITIONAL:
            continue
        if p.kind == p.POSITIONAL_ONLY:
            if p.default is p.empty:
                positional.append(p.name)
            continue
        names.append(p.name)
        if p.default is p.empty:
            required.append(p.name)
    return names, required, positional


def call_keywords(function, available, what):
    """The names of `available` that `function` takes. Raises TypeError naming what it needs
    and sweep does not pass."""
    names, required, positional = keywords(function)
    name = getattr(function, "__qualname__", what)
    if positional:
        raise TypeError("%s() takes %s by position only; sweep passes everything by name"
                        % (name, ", ".join(positional)))
    missing = [r for r in required if r not in available]
    if missing:
        raise TypeError("%s() needs %s, which sweep does not pass (it passes %s)"
                        % (name, ", ".join("`%s`" % m for m in missing), ", ".join(available)))
    return list(available) if names is None else [a for a in available if a in names]


def readonly_array(view, dtype, shape):
    import numpy
    return numpy.frombuffer(view, dtype=dtype).reshape(shape)


def writable_array(view, dtype, shape):
    import numpy
    return numpy.frombuffer(view, dtype=dtype).reshape(shape)


def string_column(values):
    import numpy
    return numpy.array(values)


def store(value, out, name):
    """Copies `value` into the writable array `out` (an output's rows), strictly: the shape must
    broadcast, and no float goes into an integer output, no value outside its range."""
    import numpy
    try:
        a = numpy.asarray(value)
    except Exception as e:
        raise OutputError("output `%s`: %s" % (name, e)) from None
    if a.dtype.kind not in "biuf":
        raise OutputError("output `%s`: expected numbers, got %s" % (name, _kind(value, a)))
    if not numpy.can_cast(a.dtype, out.dtype, casting="same_kind"):
        raise OutputError("output `%s` is %s: cannot hold %s values" % (name, out.dtype, a.dtype))
    if out.dtype.kind in "iu" and a.size:
        info = numpy.iinfo(out.dtype)
        if a.min() < info.min or a.max() > info.max:
            raise OutputError("output `%s` is %s: a value is out of its range" % (name, out.dtype))
    try:
        numpy.copyto(out, a, casting="unsafe")
    except ValueError:
        raise OutputError("output `%s`: expected shape %s, got %s"
                          % (name, _shape(out.shape), _shape(a.shape))) from None


def _kind(value, a):
    return type(value).__name__ if a.dtype.kind == "O" else "dtype %s" % a.dtype


def _shape(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def store_all(result, outs, names):
    """Stores what a call returned into `outs` (name -> array): a dict by name, a tuple or list
    in declared order, or one value when there is one output."""
    if isinstance(result, dict):
        extra = [k for k in result if k not in outs]
        if extra:
            raise OutputError("returned %s, not a declared output (outputs: %s)"
                              % (", ".join("`%s`" % k for k in extra), ", ".join(names)))
        missing = [n for n in names if n not in result]
        if missing:
            raise OutputError("returned no %s (outputs: %s)"
                              % (", ".join("`%s`" % m for m in missing), ", ".join(names)))
        for n in names:
            store(result[n], outs[n], n)
    elif len(names) == 1:
        store(result, outs[names[0]], names[0])
    elif isinstance(result, (tuple, list)) and len(result) == len(names):
        for n, value in zip(names, result):
            store(value, outs[n], n)
    else:
        raise OutputError("returned %s; with %d outputs (%s) return a dict, or a tuple in that "
                          "order" % (_returned(result), len(names), ", ".join(names)))


def _returned(result):
    if isinstance(result, (tuple, list)):
        return "a %s of %d" % (type(result).__name__, len(result))
    return "a %s" % type(result).__name__


def call_batch(function, kwargs, outs, names, columns):
    """One call for a block of points: `columns` are the names of kwargs holding a column. A
    result other than None is stored into `outs`."""
    result = function(**kwargs)
    if result is not None:
        store_all(result, outs, names)


def narrow(function, kwargs, outs, names, columns, count):
    """Calls the function point by point over the block that raised, until one raises: returns
    (its index, its exception), or None if none does."""
    for i in range(count):
        one = dict(kwargs)
        for c in columns:
            one[c] = kwargs[c][i : i + 1]
        one_outs = {n: outs[n][i : i + 1] for n in names}
        if "out" in one:
            one["out"] = one_outs
        try:
            call_batch(function, one, one_outs, names, columns)
        except BaseException as e:
            return i, e
    return None


def _user_frame(frames, folders):
    """The innermost frame of a file under one of `folders` that is not an installed package."""
    for frame in reversed(frames):
        path = os.path.realpath(frame.filename)
        if "-packages" + os.sep in path:
            continue
        for folder in folders:
            if path.startswith(folder + os.sep):
                return frame, os.path.relpath(path, folders[-1])
    return None, None


def describe(exc, folders):
    """(one line: the exception's type, its message and the innermost frame of the user's files;
    the whole traceback). An exception that OutputError raised is its own message."""
    if isinstance(exc, OutputError):
        return str(exc), ""
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = kind.__module__ + "." + name
    message = " | ".join(line for line in str(exc).splitlines() if line.strip())
    if len(message) > 400:
        message = message[:400] + "..."
    reason = name + (": " + message if message else "")
    if isinstance(exc, MemoryError):
        reason = "out of memory: " + reason
    frames = traceback.extract_tb(exc.__traceback__)
    frame, path = _user_frame(frames, folders)
    if frame is not None:
        reason += " (at %s:%d in %s)" % (path, frame.lineno, frame.name)
    text = "".join(traceback.format_exception(kind, exc, exc.__traceback__))
    return reason, text


def point_text(names, values):
    return ", ".join("%s=%r" % (n, v) for n, v in zip(names, values))
)PY";

}  // namespace sweep::python
