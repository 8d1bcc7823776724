"""Every training setting, with the paper's values. Other configs change a few fields.

The paper (Kindermans & Staats, 2022): ResNet-34, Adam (β₁ 0.9, β₂ 0.999, ε 1e-8),
learning rate 4e-4 with cosine decay, batch 512, 129,600 steps, softmax
cross-entropy, and no training example ever repeated.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0

    # What to learn: the generator's family and image size.
    config.family = "taylor"  # or "sine_net"
    config.order = 7  # Taylor
    config.width = 300  # SineNet
    config.resolution = 60

    # Where batches come from. "online": fresh examples of the train stream every
    # step, made on the accelerator (batch s holds indices s·B .. s·B+B-1, so none
    # repeats). "tfds": the built dataset `tfds_name`, read with tf.data.
    config.data = ml_collections.ConfigDict()
    config.data.source = "online"
    config.data.tfds_name = "squiggles/taylor"
    config.data.data_dir = ml_collections.config_dict.placeholder(str)
    config.data.shuffle_buffer = 10_000
    config.data.prefetch = 2

    # ResNet-34. "imagenet" stem (7×7 stride 2, max-pool): the architecture the
    # paper names; "small" (3×3 stride 1) keeps full resolution at 16× the compute.
    config.model = ml_collections.ConfigDict()
    config.model.stage_sizes = (3, 4, 6, 3)
    config.model.width = 64
    config.model.stem = "imagenet"

    # The model's compute dtype: "float32", or "bfloat16" (convolutions and activations
    # in bfloat16; parameters, optimizer state, BatchNorm statistics and the loss stay
    # float32). Checkpoints hold float32 either way.
    config.dtype = "float32"

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.learning_rate = 4e-4
    config.optimizer.b1 = 0.9
    config.optimizer.b2 = 0.999
    config.optimizer.eps = 1e-8
    config.optimizer.warmup_steps = 0

    config.batch_size = 512
    config.num_steps = 129_600

    # Gaussian pixel noise on training images: a fixed sigma (the paper's 0.08), or,
    # as in Ford et al. (2019), sigma ~ U[0, sigma_max] per example. 0 = off.
    config.noise = ml_collections.ConfigDict()
    config.noise.sigma = 0.0
    config.noise.sigma_max = 0.0

    config.log_every = 100
    config.eval_every = 5_000
    config.eval_examples = 10_000
    config.checkpoint_every = 5_000
    config.keep_checkpoints = 3
    return config
