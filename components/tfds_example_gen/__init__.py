"""An ExampleGen that reads any TensorFlow Datasets dataset."""
