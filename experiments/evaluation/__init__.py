"""What `experiments.evaluate` reports:

clean_report       accuracy, ROC-AUC, confusion counts and the misclassified grid of a
                   trained run; the within/cross-family table (paper Table 6)
corruption_run     the Squiggles-C evaluation as a chunked run (`squiggles_c` analysis)
corruption_report  its report: accuracy per cell, CE and mCE against a baseline, heat map
"""
