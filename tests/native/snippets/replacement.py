real = "\ufffd and �"
fstring = f"\ufffd{real}"
