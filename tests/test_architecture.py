"""The package's import layering (docs/ARCHITECTURE.md): no module imports from a layer above it.

Every import in src/dezero is read with ast, including the imports inside functions (a lazy
import is still a dependency). A module may import from its own layer or any layer below.
`dezero/__init__.py` (the public names) may import everything. A new module must be given a
layer in LAYERS below and in docs/ARCHITECTURE.md.
"""
import ast
import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / 'src'

# Lowest first. Module names match by the longest dotted prefix.
LAYERS = [
    ('arrays', ['dezero.cuda', 'dezero._blas_env', 'dezero._malloc', 'dezero._parallel',
                'dezero.utils_array']),
    ('engine', ['dezero.core', 'dezero.core_simple', 'dezero.anomaly']),
    ('functions', ['dezero.functions', 'dezero.functions_conv', 'dezero.numerical']),
    ('io', ['dezero.serializers', 'dezero.serializers.files', 'dezero.serializers.weights',
            'dezero.serializers.safetensors_format', 'dezero.serializers.optimizer_state',
            'dezero.serializers.caches', 'dezero.download', 'dezero.download.errors',
            'dezero.download._http', 'dezero.download.archives', 'dezero.progress',
            'dezero.graph', 'dezero.utils']),
    ('layers', ['dezero.layers']),
    ('models', ['dezero.models']),
    ('optimizers', ['dezero.optimizers', 'dezero.schedulers']),
    ('data', ['dezero.datasets', 'dezero.dataloaders', 'dezero.transforms']),
    ('training', ['dezero.training', 'dezero.callbacks', 'dezero.callbacks.base',
                  'dezero.callbacks.monitored', 'dezero.callbacks.divergence',
                  'dezero.callbacks.tensorboard', 'dezero.callbacks.checkpoint']),
    ('integration', ['dezero.onnx', 'dezero.onnx._builder', 'dezero.onnx.converters',
                     'dezero.onnx.exporter', 'dezero.distributed',
                     'dezero.distributed.communicators', 'dezero.distributed._faults',
                     'dezero.distributed._plan', 'dezero.distributed.optimizer',
                     'dezero.distributed.scatter', 'dezero._shared_reduce']),
    ('cli', ['dezero.cli', 'dezero.cli.run_folder', 'dezero.__main__']),
]


def _layer_of(module):
    """(index, name) of the layer holding `module`, or None when the table lacks it."""
    best = None
    for index, (name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + '.'):
                if best is None or len(prefix) > best[2]:
                    best = (index, name, len(prefix))
    return None if best is None else best[:2]


def _module_name(path):
    parts = list(path.relative_to(SRC).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _imports(path):
    """Every dezero module that the file at `path` imports (at any depth in the file)."""
    module = _module_name(path)
    package = module.split('.') if path.name == '__init__.py' else module.split('.')[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            folder = SRC.joinpath(*target.split('.'))
            if folder.is_dir():
                # `from dezero import cuda` names a module; `from dezero import Variable`
                # goes through the package itself.
                for a in node.names:
                    is_module = (folder / (a.name + '.py')).exists() or (folder / a.name).is_dir()
                    found.add(target + '.' + a.name if is_module else target)
            else:
                found.add(target)
    return {m for m in found if m == 'dezero' or m.startswith('dezero.')}


MODULES = sorted(p for p in (SRC / 'dezero').rglob('*.py'))


def test_every_module_has_a_layer():
    missing = [_module_name(p) for p in MODULES
               if _module_name(p) != 'dezero' and _layer_of(_module_name(p)) is None]
    assert not missing, (f"modules without a layer: {missing}; add them to LAYERS in "
                         "tests/test_architecture.py and to docs/ARCHITECTURE.md")


@pytest.mark.parametrize('path', MODULES, ids=lambda p: _module_name(p))
def test_module_imports_only_its_own_layer_or_below(path):
    module = _module_name(path)
    if module == 'dezero':
        return  # the public names: may import everything
    own = _layer_of(module)
    if own is None:
        pytest.skip('no layer (reported by test_every_module_has_a_layer)')
    upward = []
    for target in sorted(_imports(path)):
        if target == 'dezero':
            if own[1] != 'cli':
                upward.append("dezero (the package's public names; import the defining module)")
            continue
        layer = _layer_of(target)
        if layer is not None and layer[0] > own[0]:
            upward.append(f"{target} (layer {layer[1]})")
    assert not upward, (f"{module} (layer {own[1]}) imports from layers above it: {upward}; "
                        "see docs/ARCHITECTURE.md")


def _graph():
    """{module: the modules it imports}, every import resolved to a module of src/dezero."""
    modules = {_module_name(p): p for p in MODULES}

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition('.')[0]
        return name

    return {m: {resolve(t) for t in _imports(p)} - {'', m} for m, p in modules.items()}


def test_no_import_cycles():
    graph = _graph()
    state, cycles = {}, []

    def visit(module, path):
        state[module] = 'open'
        for target in sorted(graph[module]):
            if state.get(target) == 'open':
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 'done'

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, f"import cycles: {[' -> '.join(c) for c in cycles]}"


def test_the_engine_imports_only_the_array_helpers():
    assert _imports(SRC / 'dezero' / 'core.py') <= {'dezero.cuda'}


@pytest.mark.parametrize('case, expected', [
    ('dezero.functions.conv', 'functions'),
    ('dezero.layers', 'layers'),
    ('dezero.cli.train', 'cli'),
    ('dezero.core', 'engine'),
])
def test_layer_table_resolves_by_prefix(case, expected):
    assert _layer_of(case)[1] == expected


def test_onnx_and_distributed_load_on_first_use_not_at_import():
    code = ("import sys, dezero\n"
            "assert 'dezero.onnx' not in sys.modules and 'dezero.distributed' not in sys.modules\n"
            "assert callable(dezero.onnx.export)\n"
            "assert callable(dezero.distributed.create_communicator)\n"
            "try:\n"
            "    dezero.no_such_name\n"
            "except AttributeError as e:\n"
            "    assert 'no_such_name' in str(e)\n"
            "else:\n"
            "    raise SystemExit('no AttributeError')\n")
    subprocess.run([sys.executable, '-c', code], check=True)
