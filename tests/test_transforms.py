"""dezero.transforms: array transforms, their batched forms, PIL transforms and the Pillow hint."""
import subprocess
import sys

import numpy as np
import pytest

from dezero import transforms as T


# ---------------------------------------------------------------------------
# array transforms
# ---------------------------------------------------------------------------
def test_mnist_pipeline_gives_float32_in_unit_range():
    x = np.arange(784, dtype=np.uint8).reshape(1, 28, 28)
    y = T.Compose([T.Flatten(), T.ToFloat(), T.Normalize(0., 255.)])(x)
    assert y.shape == (784,) and y.dtype == np.float32
    np.testing.assert_array_equal(y, x.ravel().astype(np.float32) / np.float32(255))


def test_compose_empty_is_identity():
    x = np.ones(3)
    assert T.Compose()(x) is x


def test_normalize_scalar_keeps_float32():
    x = np.array([0., 127.5, 255.], dtype=np.float32)
    y = T.Normalize(mean=127.5, std=np.float64(127.5))(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [-1., 0., 1.])


def test_normalize_per_channel():
    x = np.stack([np.full((2, 2), 1.), np.full((2, 2), 4.), np.full((2, 2), 9.)]).astype(np.float32)
    y = T.Normalize(mean=[1, 2, 3], std=[1, 2, 3])(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0, 0], [0., 1., 2.])


def test_normalize_integer_input_goes_float():
    y = T.Normalize(0, 2)(np.array([2, 4], dtype=np.uint8))
    assert y.dtype == np.float64 and list(y) == [1., 2.]


def test_normalize_channel_mismatch_is_value_error():
    with pytest.raises(ValueError, match=r'Normalize: mean has 2 values .* 3 channel'):
        T.Normalize(mean=[1, 2])(np.zeros((3, 4, 4), np.float32))


def test_normalize_zero_std_is_value_error():
    with pytest.raises(ValueError, match='std must be non-zero'):
        T.Normalize(0, [1, 0, 1])


def test_astype_toint_tofloat():
    assert T.AsType()(np.array([1, 2])).dtype == np.float32
    assert T.ToFloat()(np.array([1, 2])).dtype == np.float32
    assert T.ToInt()(np.array([1.7])).dtype == np.int64
    assert T.ToInt(np.int32)(np.uint8(3)).dtype == np.int32


def test_flatten():
    assert T.Flatten()(np.zeros((2, 3, 4))).shape == (24,)


@pytest.mark.parametrize('transform', [
    T.Compose([T.Flatten(), T.ToFloat(), T.Normalize(0., 255.)]),
    T.Compose([T.ToFloat(), T.Normalize([10., 20., 30.], [2., 4., 8.])]),
    T.Compose([T.ToFloat(), T.Normalize(127.5, 127.5)]),
    T.ToInt(),
    None,
])
def test_apply_batch_equals_stacked_per_sample_results(transform):
    rng = np.random.RandomState(0)
    batch = rng.randint(0, 256, size=(5, 3, 4, 4)).astype(np.uint8)
    assert T.can_apply_batch(transform)
    per_item = np.array([(transform or (lambda v: v))(b) for b in batch])
    got = T.apply_batch(transform, batch)
    assert got.dtype == per_item.dtype
    np.testing.assert_array_equal(got, per_item)


def test_compose_with_unbatchable_member_is_not_batchable():
    assert not T.can_apply_batch(T.Compose([T.ToFloat(), lambda x: x * 2]))
    assert not T.can_apply_batch(T.RandomHorizontalFlip())
    assert not T.can_apply_batch(lambda x: x)


def test_random_horizontal_flip_on_arrays():
    x = np.arange(6).reshape(1, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(x) is x
    with pytest.raises(ValueError, match=r'p must be in \[0, 1\]'):
        T.RandomHorizontalFlip(p=1.5)


def test_toarray_passes_arrays_through_with_dtype():
    x = np.zeros((3, 2, 2), np.uint8)
    assert T.ToArray()(x).dtype == np.float32


# ---------------------------------------------------------------------------
# PIL transforms (Pillow is a test extra)
# ---------------------------------------------------------------------------
@pytest.fixture
def Image():
    return pytest.importorskip('PIL.Image')


def _rgb(Image, w=6, h=4):
    a = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    return Image.fromarray(a), a


def test_toarray_pil_to_chw(Image):
    img, a = _rgb(Image)
    y = T.ToArray()(img)
    assert y.shape == (3, 4, 6) and y.dtype == np.float32
    np.testing.assert_array_equal(y, a.transpose(2, 0, 1))
    gray = T.ToArray(np.uint8)(Image.fromarray(a[:, :, 0]))
    assert gray.shape == (1, 4, 6) and gray.dtype == np.uint8


def test_topil_roundtrip(Image):
    img, a = _rgb(Image)
    back = T.ToPIL()(a.transpose(2, 0, 1))
    assert back.size == (6, 4)
    np.testing.assert_array_equal(np.asarray(back), a)
    assert T.ToPIL()(a[:, :, :1].transpose(2, 0, 1)).mode == 'L'


def test_topil_rejects_float_rgb(Image):
    with pytest.raises(TypeError, match=r'ToPIL: a 3-channel image must be uint8, got float32'):
        T.ToPIL()(np.zeros((3, 2, 2), np.float32))


def test_resize_centercrop_convert(Image):
    img, a = _rgb(Image)
    assert T.Resize(8)(img).size == (8, 8)
    assert T.Resize((10, 5))(img).size == (10, 5)
    crop = T.CenterCrop((2, 2))(img)
    np.testing.assert_array_equal(np.asarray(crop), a[1:3, 2:4])
    assert T.Convert('L')(img).mode == 'L'
    bgr = T.Convert('BGR')(img)
    np.testing.assert_array_equal(np.asarray(bgr), a[:, :, ::-1])


def test_centercrop_too_large_is_value_error(Image):
    img, _ = _rgb(Image)
    with pytest.raises(ValueError, match=r'CenterCrop: crop size \(8, 8\)'):
        T.CenterCrop(8)(img)


def test_pil_transform_rejects_arrays(Image):
    with pytest.raises(TypeError, match='Resize: expected a PIL.Image.Image, got ndarray'):
        T.Resize(4)(np.zeros((3, 4, 4)))


def test_random_horizontal_flip_on_pil(Image):
    img, a = _rgb(Image)
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(img)), a[:, ::-1])


def test_full_image_pipeline(Image):
    img, _ = _rgb(Image, 20, 30)
    f = T.Compose([T.Convert('RGB'), T.Resize(16), T.CenterCrop(8), T.ToArray(),
                   T.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])])
    y = f(img)
    assert y.shape == (3, 8, 8) and y.dtype == np.float32


# ---------------------------------------------------------------------------
# without Pillow
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('make', [lambda: T.Resize(4), lambda: T.CenterCrop(4),
                                  lambda: T.Convert(), lambda: T.ToPIL()])
def test_missing_pillow_names_the_extra(monkeypatch, make):
    monkeypatch.setitem(sys.modules, 'PIL', None)
    monkeypatch.setitem(sys.modules, 'PIL.Image', None)
    with pytest.raises(ImportError, match=r"needs Pillow.*pip install 'dezero\[vision\]'"):
        make()


def test_missing_pillow_toarray_still_handles_arrays(monkeypatch):
    monkeypatch.setitem(sys.modules, 'PIL', None)
    monkeypatch.setitem(sys.modules, 'PIL.Image', None)
    assert T.ToArray()(np.zeros((1, 2, 2))).dtype == np.float32
    with pytest.raises(ImportError, match=r"ToArray needs Pillow"):
        T.ToArray()(object())


def test_import_dezero_loads_no_optional_dependency():
    code = ("import sys, dezero, dezero.datasets, dezero.dataloaders, dezero.transforms\n"
            "opt = ('PIL', 'matplotlib', 'cupy', 'tqdm', 'torch')\n"
            "bad = [m for m in opt if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, '-c', code], check=True)
