"""What the m12 hidden tests train and the bars they apply (calibrated: reference/m12-generative/README.md)."""

N_HELD_OUT = 2000         # MNIST test images the student's models never receive during training
AE_TRAIN, AE_EPOCHS = 10_000, 3
LATENT = 16
VAE_TRAIN, VAE_EPOCHS = 20_000, 5                  # CPU smoke
VAE_TRAIN_GPU, VAE_EPOCHS_GPU = 60_000, 20         # GPU (not run here: no GPU)
EPS_SEED, PRIOR_SEED = 1234, 4321                   # the test's own noise for the ELBO and the samples
N_SAMPLES = 500
NEAR_COPY = 1.0           # an L2 distance (pixels in [0, 1]) under which a sample counts as a copy

# Bars (reference/m12-generative/calibration.json, CPU smoke, reference seeds 0-2 vs trivial baselines):
AE_MSE_BAR = 0.045            # reference 0.030-0.031; the mean training image 0.064
VAE_NELBO_BAR = 140.0         # reference 118.3-118.9 nats; the mean image (best constant decoder) 199.6
CONFIDENCE_BAR = 0.45         # reference samples ~0.57; uniform noise ~0.11; the mean image ~0.34
COVERAGE_BAR = 0.9            # reference 1.0; the mean image 0.1 (noise passes coverage, fails confidence)
NEAR_COPY_FRACTION_BAR = 0.05  # reference 0.0; copies of training images 1.0
