set datafile separator ","
set logscale y
set format y "10^{%L}"
set grid
set key outside right
set xlabel "depth (weighted layers from the input)"
set ylabel "gradient norm ||dL/dW|| (mean over seeds)"
set multiplot layout 1,2 title "Gradient flow at initialisation, Fashion-MNIST (seeds 1 2 3, 10 batches of 128, training mode)"
set title "with batchnorm"
plot for [m in "plain20 plain56 resnet20 resnet56 densenet40"] sprintf("docs/experiments/gradflow/%s.csv", m) skip 1 using 1:4 smooth unique with linespoints title m
set title "without normalisation (-D norm=none)"
plot for [m in "plain20 plain56 resnet20 resnet56 densenet40"] sprintf("docs/experiments/gradflow/%s_nonorm.csv", m) skip 1 using 1:4 smooth unique with linespoints title m
unset multiplot
