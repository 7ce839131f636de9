"""Safe extraction of tar archives: every member is checked before anything is written."""
import gzip
import os
import tarfile
import zlib

from dezero.download.errors import CorruptFileError, UnsafeArchiveError


def _inside(base, target):
    base = os.path.realpath(base)
    target = os.path.realpath(target)
    return target == base or target.startswith(base + os.sep)


_MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit


def _parts(name):
    return [p for p in name.replace('\\', '/').split('/') if p not in ('', '.')]


def _resolve(parts, links, where):
    """The path (a list of names under dest) that `parts` reaches once every symbolic link
    recorded in links ({'a/b': 'target'}) by earlier members is followed, as the OS would;
    UnsafeArchiveError when it climbs above dest or loops."""
    todo = list(reversed(parts))  # a stack: next name on top
    out = []
    hops = 0
    while todo:
        part = todo.pop()
        if part == '..':
            if not out:
                raise UnsafeArchiveError(f"{where} resolves, through the links before it, to a "
                                         "path outside the destination.")
            out.pop()
            continue
        out.append(part)
        target = links.get('/'.join(out))
        if target is not None:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise UnsafeArchiveError(f"{where} goes through a loop of links.")
            out.pop()  # the link's target is relative to the folder holding it
            todo.extend(reversed(_parts(target)))
    return out


def _check_member(archive, member, dest, links):
    """Refuse a member that could write outside dest, given the links met so far (links is
    updated with this member when it is a symbolic link)."""
    name = member.name
    where = f"extract_archive: refusing {archive}: member {name!r}"
    if os.path.isabs(name) or name.startswith(('/', '\\')) or (len(name) > 1 and name[1] == ':'):
        raise UnsafeArchiveError(f"{where} has an absolute path.")
    if '..' in name.replace('\\', '/').split('/'):
        raise UnsafeArchiveError(f"{where} contains '..' and would write outside {dest}.")
    if not _inside(dest, os.path.join(dest, name)):
        raise UnsafeArchiveError(f"{where} would write outside {dest}.")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(f"{where} is a device, FIFO or other special file.")
    # Where the member really lands once the earlier links exist (a file written through a
    # link lands where the link points).
    parts = _parts(name)
    if member.issym():
        folder = _resolve(parts[:-1], links, where)
        link = member.linkname
        if not link or os.path.isabs(link) or (len(link) > 1 and link[1] == ':'):
            raise UnsafeArchiveError(f"{where} is a link to the absolute path {link!r}.")
        try:
            _resolve(folder + _parts(link), links, where)
        except UnsafeArchiveError:
            raise UnsafeArchiveError(f"{where} is a link to {link!r}, outside {dest} (once "
                                     "the links before it are followed).") from None
        links['/'.join(folder + parts[-1:])] = link
        return
    _resolve(parts, links, where)
    if member.islnk():
        link = member.linkname
        if not link or os.path.isabs(link) or (len(link) > 1 and link[1] == ':'):
            raise UnsafeArchiveError(f"{where} is a link to the absolute path {link!r}.")
        try:
            _resolve(_parts(link), links, where)
        except UnsafeArchiveError:
            raise UnsafeArchiveError(f"{where} is a link to {link!r}, outside {dest}.") from None


def extract_archive(path, dest=None):
    """Extract the tar archive at path (gzip/bz2/xz allowed) into dest (default: its folder).

    The whole archive is checked before anything is written: absolute paths, '..' parts,
    special files, and links or chains of links that lead outside dest (each member's
    final place is resolved with every earlier link applied) raise UnsafeArchiveError
    naming the member; tarfile's 'data' filter is also applied where Python has it.
    A damaged archive raises CorruptFileError. Returns dest.
    """
    dest = os.path.abspath(dest if dest is not None else os.path.dirname(os.path.abspath(path)))
    try:
        with tarfile.open(path, 'r:*') as tar:
            members = tar.getmembers()
            links = {}
            for m in members:
                _check_member(path, m, dest, links)
            for place, link in links.items():  # a later link may change where an earlier one leads
                where = f"extract_archive: refusing {path}: the link {place!r} -> {link!r}"
                _resolve(_parts(place)[:-1] + _parts(link), links, where)
            os.makedirs(dest, exist_ok=True)
            if hasattr(tarfile, 'data_filter'):
                tar.extractall(dest, members=members, filter='data')
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(dest, members=members)
    except UnsafeArchiveError:
        raise
    except getattr(tarfile, 'FilterError', UnsafeArchiveError) as e:
        raise UnsafeArchiveError(f"extract_archive: refusing {path}: {e}.") from e
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptFileError(f"extract_archive: {path} is not a readable tar archive ({e}); "
                               "delete it and run again to download it afresh.", path) from e
    return dest
