class Base:
    def __init__(self, x):
        self.x = x

    def method(self, y):
        return y


class Child(Base):
    def __init__(self, x, y):
        super().__init__(x)
        self.y = y

    def method(self, y):
        value = super().method(y)
        other = super(Child, self).method(y)
        return value + other + super().x

    def uses_class(self):
        return __class__

    @classmethod
    def make(cls):
        return super().__new__(cls)


class Plain:
    def __repr__(self):
        return "%s()" % (self.__class__.__name__,)
