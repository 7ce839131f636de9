"""Per-sample transforms for datasets: PIL-image ones (need Pillow) and array ones.

Pillow is an optional extra (`pip install 'dezero[vision]'`) imported only when an
image transform is built or applied, so `import dezero` never loads it. Array
transforms work on one sample (channels first, CHW); those that can also act on a
whole stacked batch in one NumPy call expose `apply_batch`, which DataLoader uses to
skip the per-sample Python loop.
"""
import numpy as np

from dezero.utils_array import pair

__all__ = ['Compose', 'Convert', 'Resize', 'CenterCrop', 'ToArray', 'ToPIL',
           'RandomHorizontalFlip', 'Normalize', 'Flatten', 'AsType', 'ToFloat', 'ToInt',
           'NEAREST', 'BILINEAR', 'BICUBIC', 'can_apply_batch', 'apply_batch']

# Pillow's resampling codes (Image.Resampling.NEAREST/BILINEAR/BICUBIC), defined here so
# that building Resize() does not import Pillow.
NEAREST, BILINEAR, BICUBIC = 0, 2, 3


def _pil_image(who):
    """Return the PIL.Image module or raise an ImportError that says how to install it."""
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(
            f"dezero.transforms.{who} needs Pillow, which is not installed; install it with "
            "`pip install 'dezero[vision]'` (or `pip install pillow`).") from e
    return Image


def _require_image(img, who):
    Image = _pil_image(who)
    if not isinstance(img, Image.Image):
        raise TypeError(f"dezero.transforms.{who}: expected a PIL.Image.Image, got "
                        f"{type(img).__name__}; convert arrays with ToPIL() first.")
    return Image


def _identity(x):
    return x


def can_apply_batch(transform):
    """True when transform (None, a Compose or a single transform) has a batched form."""
    if transform is None or transform is _identity:
        return True
    return callable(getattr(transform, 'apply_batch', None)) and \
        getattr(transform, 'batchable', True)


def apply_batch(transform, batch):
    """Apply transform to a stacked batch (axis 0 = samples), as if stacking per-sample results."""
    if transform is None or transform is _identity:
        return batch
    return transform.apply_batch(batch)


class Compose:
    """Apply transforms in order: Compose([Flatten(), ToFloat()])(x)."""

    def __init__(self, transforms=None):
        self.transforms = list(transforms) if transforms is not None else []

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    @property
    def batchable(self):
        return all(can_apply_batch(t) for t in self.transforms)

    def apply_batch(self, batch):
        for t in self.transforms:
            batch = apply_batch(t, batch)
        return batch

    def __repr__(self):
        return f"Compose({self.transforms!r})"


# ---------------------------------------------------------------------------
# PIL image transforms
# ---------------------------------------------------------------------------
class Convert:
    """Convert a PIL image to mode ('RGB', 'L', ...); 'BGR' swaps the red and blue channels."""

    def __init__(self, mode='RGB'):
        _pil_image('Convert')
        self.mode = mode

    def __call__(self, img):
        Image = _require_image(img, 'Convert')
        if self.mode == 'BGR':
            r, g, b = img.convert('RGB').split()
            return Image.merge('RGB', (b, g, r))
        return img.convert(self.mode)


class Resize:
    """Resize a PIL image to size (an int or (width, height)) with resampling mode."""

    def __init__(self, size, mode=BILINEAR):
        _pil_image('Resize')
        self.size = pair(size)
        self.mode = mode

    def __call__(self, img):
        _require_image(img, 'Resize')
        return img.resize(self.size, self.mode)


class CenterCrop:
    """Crop the centre of a PIL image to size (an int or (width, height))."""

    def __init__(self, size):
        _pil_image('CenterCrop')
        self.size = pair(size)

    def __call__(self, img):
        _require_image(img, 'CenterCrop')
        W, H = img.size
        OW, OH = self.size
        if OW > W or OH > H:
            raise ValueError(f"dezero.transforms.CenterCrop: crop size {self.size} (width, "
                             f"height) is larger than the image {img.size}; Resize first.")
        left, top = (W - OW) // 2, (H - OH) // 2
        return img.crop((left, top, left + OW, top + OH))


class ToArray:
    """PIL image -> CHW array of dtype (a grayscale image gets one channel); arrays are cast."""

    def __init__(self, dtype=np.float32):
        self.dtype = dtype

    def __call__(self, img):
        if isinstance(img, np.ndarray):
            return img.astype(self.dtype, copy=False)
        _require_image(img, 'ToArray')
        a = np.asarray(img)
        a = a[np.newaxis] if a.ndim == 2 else a.transpose(2, 0, 1)
        return a.astype(self.dtype)


class ToPIL:
    """CHW array (1 or 3 channels, or HW) -> PIL image."""

    def __init__(self):
        _pil_image('ToPIL')

    def __call__(self, array):
        Image = _pil_image('ToPIL')
        if not isinstance(array, np.ndarray) or array.ndim not in (2, 3):
            raise TypeError(f"dezero.transforms.ToPIL: expected a CHW or HW ndarray, got "
                            f"{type(array).__name__} of shape {getattr(array, 'shape', None)}.")
        a = array if array.ndim == 2 else array.transpose(1, 2, 0)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim == 3 and a.dtype != np.uint8:
            raise TypeError(f"dezero.transforms.ToPIL: a {a.shape[2]}-channel image must be "
                            f"uint8, got {a.dtype}; add AsType(np.uint8) first.")
        return Image.fromarray(np.ascontiguousarray(a))


class RandomHorizontalFlip:
    """Mirror left-right with probability p (a PIL image, or an array along its last axis)."""

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dezero.transforms.RandomHorizontalFlip: p must be in [0, 1], "
                             f"got {p!r}.")
        self.p = p

    def __call__(self, img):
        if np.random.rand() >= self.p:
            return img
        if isinstance(img, np.ndarray):
            return img[..., ::-1].copy()
        Image = _require_image(img, 'RandomHorizontalFlip')
        flip = getattr(Image, 'Transpose', Image).FLIP_LEFT_RIGHT
        return img.transpose(flip)


# ---------------------------------------------------------------------------
# array transforms
# ---------------------------------------------------------------------------
class Normalize:
    """(x - mean) / std; a sequence mean/std applies per channel (axis 0 of a CHW sample)."""

    def __init__(self, mean=0, std=1):
        if np.any(np.asarray(std) == 0):
            raise ValueError(f"dezero.transforms.Normalize: std must be non-zero, got {std!r}.")
        self.mean = mean
        self.std = std

    def _params(self, array, sample_ndim, lead):
        # Keep float32 samples float32: constants are cast to the sample's float dtype.
        dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float64)
        out = []
        for v, what in ((self.mean, 'mean'), (self.std, 'std')):
            if np.isscalar(v):
                out.append(dtype.type(v))
                continue
            v = np.asarray(v, dtype=dtype).ravel()
            channels = array.shape[lead] if sample_ndim else 0
            if sample_ndim == 0 or (v.size != 1 and v.size != channels):
                raise ValueError(
                    f"dezero.transforms.Normalize: {what} has {v.size} values but the sample of "
                    f"shape {array.shape[lead:]} has {channels} channel(s) on axis 0.")
            out.append(v.reshape((1,) * lead + (v.size,) + (1,) * (sample_ndim - 1)))
        return out

    def __call__(self, array):
        array = np.asarray(array)
        mean, std = self._params(array, array.ndim, 0)
        return (array - mean) / std

    def apply_batch(self, batch):
        mean, std = self._params(batch, batch.ndim - 1, 1)
        return (batch - mean) / std


class Flatten:
    """Flatten an array sample to 1-D."""

    def __call__(self, array):
        return array.flatten()

    def apply_batch(self, batch):
        return batch.reshape(len(batch), -1)


class AsType:
    """Cast an array (or NumPy scalar) to dtype."""

    def __init__(self, dtype=np.float32):
        self.dtype = dtype

    def __call__(self, array):
        return array.astype(self.dtype)

    def apply_batch(self, batch):
        return batch.astype(self.dtype)


class ToFloat(AsType):
    """Cast to a float dtype (float32 by default)."""

    def __init__(self, dtype=np.float32):
        super().__init__(dtype)


class ToInt(AsType):
    """Cast to an integer dtype (int64 by default: the book's `int`)."""

    def __init__(self, dtype=np.int64):
        super().__init__(dtype)
