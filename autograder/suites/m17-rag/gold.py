"""Hidden gold question -> relevant passage ids of source/m17-rag/course_corpus.json (grader only).

Written by reading the corpus: each question paraphrases one passage's topic (a few name two passages
that both answer it). Passage ids are plain ints, so they stay valid only with the frozen corpus.
The notebook's public gold questions are different ones.
"""

GOLD = [
    ("How does power iteration find the dominant eigenvector of a matrix?", [5]),
    ("Why does partial pivoting matter when solving linear equations by Gaussian elimination?", [3]),
    ("How can an image be compressed with a low-rank approximation from the SVD?", [8]),
    ("What is the error order of a central difference numerical derivative?", [11]),
    ("How does Adam differ from momentum and plain gradient descent?", [13, 65]),
    ("Why does a learning rate that is too large make descent diverge on a quadratic?", [14]),
    ("How does Newton's method find the root of a function with its tangent?", [16]),
    ("How do I turn uniform random numbers into samples of another distribution?", [19]),
    ("What is the posterior of a coin's bias under a Beta prior?", [21]),
    ("How does the bootstrap estimate the uncertainty of a median?", [22]),
    ("How is the KL divergence related to entropy and cross-entropy?", [23]),
    ("How does a Gaussian naive Bayes classifier use Bayes' rule?", [24]),
    ("What are the rules NumPy uses to broadcast two array shapes together?", [28, 37]),
    ("How do I compute all pairwise squared distances with a matrix product?", [27, 29]),
    ("How does einsum name the axes of a product of arrays?", [31, 30]),
    ("How do I compute a softmax that does not overflow for large scores?", [32, 63]),
    ("How do I compute the mean and variance of a stream that does not fit in memory?", [34, 33]),
    ("How do I find out where a program spends its time?", [35]),
    ("What does the ridge penalty do to the coefficients of correlated features?", [44]),
    ("How does coordinate descent solve the lasso with soft thresholding?", [45]),
    ("How does k-means place its centroids and what is the inertia?", [48]),
    ("How does a decision tree choose a split, and when does a node become a leaf?", [49, 50]),
    ("How does k-fold cross-validation split the examples into folds?", [51]),
    ("Why must backward visit the nodes of the graph in topological order?", [56]),
    ("How does dropout regularise a network during training?", [66]),
    ("How do I check an analytic gradient against a numerical one?", [64, 12]),
    ("Why does a convolution suit images better than an MLP on raw pixels?", [71]),
    ("How do I make a PyTorch training run reproducible?", [72]),
    ("How do queries, keys and values make attention a soft dictionary lookup?", [77]),
    ("Why does a transformer need positional encodings?", [79]),
    ("How does byte-level BPE merge pairs of tokens into a vocabulary?", [85]),
    ("What do temperature, top-k and top-p do when sampling the next token?", [88]),
    ("How does caching keys and values speed up generation?", [89]),
    ("Why warm up the learning rate of a transformer?", [87]),
    ("Where are downloaded data sets cached, and how do I use a mirror?", [95]),
    ("What counts as a secret for the leak guard?", [102]),
]

# Questions the course cannot answer: a grounded answerer abstains on them.
OFF_TOPIC = ["zebra quokka platypus", "Wer wohnt im Elfenbeinturm?"]
