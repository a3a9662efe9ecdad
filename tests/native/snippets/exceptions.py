import contextlib


def handlers(x):
    try:
        x()
    except ValueError:
        return 1
    except (TypeError, KeyError) as err:
        print(err)
    except Exception as exc:
        raise RuntimeError("wrapped") from exc
    except:
        raise
    else:
        return 2
    return 3


def finally_(x):
    try:
        return x()
    finally:
        print("done")


def both(x):
    try:
        x()
    except OSError:
        pass
    else:
        x = 1
    finally:
        x = None
    return x


def loops(items):
    for item in items:
        try:
            if item:
                continue
            if not item:
                break
        except ValueError as e:
            if e:
                break
            continue
        finally:
            print(item)
    while items:
        try:
            return items.pop()
        except IndexError:
            return None


def withs(path):
    with open(path) as f:
        data = f.read()
    with open(path) as a, open(path) as b:
        pass
    with contextlib.suppress(Exception):
        return data
    with lock:
        for item in data:
            if item:
                return item
    return None


def nested():
    try:
        try:
            pass
        finally:
            pass
    except Exception:
        try:
            pass
        except Exception:
            pass


try:
    import json
except ImportError:
    json = None

with open(__file__) as source:
    text = source.read()
