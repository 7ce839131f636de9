"""Text sets: Tiny Shakespeare as character ids."""
import numpy as np

from dezero.datasets.base import Dataset
from dezero.download import CorruptFileError, get_file


# ---------------------------------------------------------------------------
# text and labels
# ---------------------------------------------------------------------------
class Shakespear(Dataset):
    """Tiny Shakespeare as character ids: data = ids[:-1], label = ids[1:] (int64).

    char_to_id / id_to_char number characters in order of first appearance.
    """

    url = ('https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/'
           'input.txt')
    file_name = 'shakespear.txt'
    sha256 = None

    def prepare(self):
        path = get_file(self.url, file_name=self.file_name, sha256=self.sha256)
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except UnicodeDecodeError as e:
            raise CorruptFileError(f"Shakespear: {path} is not UTF-8 text ({e}); delete it and "
                                   "run again to download it afresh.", path) from e
        if len(text) < 2:
            raise CorruptFileError(f"Shakespear: {path} holds {len(text)} character(s); delete "
                                   "it and run again to download it afresh.", path)
        self.char_to_id = {}
        for c in text:
            if c not in self.char_to_id:
                self.char_to_id[c] = len(self.char_to_id)
        self.id_to_char = {i: c for c, i in self.char_to_id.items()}
        ids = np.fromiter((self.char_to_id[c] for c in text), dtype=np.int64, count=len(text))
        self.data = ids[:-1]
        self.label = ids[1:]
