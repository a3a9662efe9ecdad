def make(base, name):
    size = 3

    class Made(base):
        label = name
        count = size

        def get(self):
            return name, size, super().get()

        def size(self):
            return size
    return Made


def shadow(value):
    class Inner:
        value = value

        def method(self):
            return value
    return Inner
