"""Training ResNets on Squiggles and reading trained runs back:

trainer      the train state, the jitted step, config checks, checkpoints and the loop
data         training and evaluation batches: generated online or read from TFDS
resnet       the ResNets (basic blocks, BatchNorm) for one-channel images, two classes
metrics      predictions and classification metrics of a trained state
metrics_log  where training metrics go: JSON lines, TensorBoard, the progress line
restore      the newest checkpoint of a run that can be restored
trained_run  a run's newest checkpoint and config, and the adapter to a `Classifier`
"""
