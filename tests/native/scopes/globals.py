import os
import os.path
import xml.etree.ElementTree as ET
from collections import OrderedDict as OD, deque
from json import *

G = 1


def setg():
    global G, NEW
    G = 2
    NEW = 3


def readg():
    return G + os.sep


def gl_in_nested():
    def inner():
        global G
        return G

    G2 = 1
    return inner, G2


class K:
    global G
    G = 5

    def m(self):
        return G


def uses_builtins():
    return len(print) + ET.x + OD.y + deque.z


del G
