set datafile separator ","
set grid
set key top right
set xlabel "epoch"
set style line 1 lc rgb "#1f77b4" lw 2 dt 2 pt 6
set style line 2 lc rgb "#d62728" lw 2 dt 2 pt 6
set style line 3 lc rgb "#1f77b4" lw 2 pt 7
set style line 4 lc rgb "#d62728" lw 2 pt 7
set multiplot layout 1,2 title "Degradation: plain vs residual, same recipe, Fashion-MNIST (10 epochs)"
set title "training loss (mean over the epoch)"
set ylabel "cross-entropy"
plot for [i=1:4] sprintf("docs/experiments/degradation/%s.csv", word("plain20 plain56 resnet20 resnet56", i)) using 2:3 with linespoints ls i title word("plain20 plain56 resnet20 resnet56", i)
set title "test error"
set ylabel "1 - accuracy"
plot for [i=1:4] sprintf("docs/experiments/degradation/%s.csv", word("plain20 plain56 resnet20 resnet56", i)) using 2:6 with linespoints ls i title word("plain20 plain56 resnet20 resnet56", i)
unset multiplot
