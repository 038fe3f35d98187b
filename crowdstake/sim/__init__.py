"""The demo, apart from the runtime: a whole season on a local chain (`season`), the example
participant models it plays (`models`), and its report (`report`)."""
