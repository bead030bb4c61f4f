# Reference values for tests/analysis/test_analysis_weights_r.py (R 4.2, base R only).
# Weighted outcome GEEs (independence, logit) whose sandwich stacks every estimated part of
# the weights: IPTW (propensity score + proportion treated) and IPTW x IPCW (besides those,
# each follow-up visit's completion model and completion rate). Rows: ps.csv,
# completion_m6.csv, completion_m12.csv and visits.csv beside this file (make_data.py).
# The bread is computed twice, from the score functions by hand and by central finite
# differences of the stacked estimating functions; the meat sums each centre's scores.
# Run from this folder: Rscript weights.R
options(digits = 12)
rd <- function(f) read.csv(f, na.strings = character(0), stringsAsFactors = FALSE)
ps <- rd("ps.csv"); blocks <- list(M6 = rd("completion_m6.csv"), M12 = rd("completion_m12.csv"))
v <- read.csv("visits.csv")

rhs <- function(d, drop) {
  cols <- setdiff(names(d), drop)
  cols <- cols[vapply(cols, function(c) length(unique(d[[c]])) > 1, TRUE)]
  paste(ifelse(startsWith(cols, "cat_"), paste0("factor(", cols, ")"), cols), collapse = " + ")
}
# A logistic model on linearly independent columns of its design (pivoted QR, as lm and
# glm do): M12's "not done" levels of the two M6 answers both equal 1 - did_m6. The fitted
# probabilities are those of the full design; the stacked Jacobian is invertible.
logit_fit <- function(target, d, drop) {
  X <- model.matrix(as.formula(paste("~", rhs(d, drop))), d)
  q <- qr(X, tol = 1e-7)
  X <- X[, sort(q$pivot[seq_len(q$rank)]), drop = FALSE]
  f <- glm.fit(X, d[[target]], family = binomial(),
               control = glm.control(epsilon = 1e-14, maxit = 100))
  list(X = X, coef = f$coefficients, y = d[[target]], pid = d$participant_id,
       dropped = ncol(model.matrix(as.formula(paste("~", rhs(d, drop))), d)) - ncol(X))
}

ps_fit <- logit_fit("treated", ps, c("participant_id", "centre_code", "treated"))
pi_t <- mean(ps$treated)
e_hat <- plogis(drop(ps_fit$X %*% ps_fit$coef))
raw <- ifelse(ps$treated == 1, pi_t / e_hat, (1 - pi_t) / (1 - e_hat))
bounds <- unname(quantile(raw, c(0.01, 0.99)))   # type 7, as pandas
# Who is trimmed, and the bounds, are held fixed (derivative 0), as in analysis.weighting.
low <- raw < bounds[1]; high <- raw > bounds[2]
cen_fits <- lapply(blocks, logit_fit, target = "observed",
                   drop = c("participant_id", "observed"))
for (tp in names(cen_fits)) {
  cen_fits[[tp]]$floored <- plogis(drop(cen_fits[[tp]]$X %*% cen_fits[[tp]]$coef)) < 0.01
  cat(tp, "completion model:", cen_fits[[tp]]$dropped, "aliased column(s) dropped,",
      sum(cen_fits[[tp]]$floored), "probabilities floored at 0.01\n")
}
cat("propensity score:", ps_fit$dropped, "aliased column(s) dropped,", sum(low | high),
    "weights trimmed\n")
centre_of <- setNames(ps$centre_code, ps$participant_id)

# The stacked estimating functions at theta, one row per unit (participant or visit),
# each with its centre. theta = (alpha, pi_t, [gamma_M6, pi_M6, gamma_M12, pi_M12,] beta).
stacked <- function(theta, d, Z, ipcw) {
  k <- 0; take <- function(n) { out <- theta[(k + 1):(k + n)]; k <<- k + n; out }
  alpha <- take(ncol(ps_fit$X)); pit <- take(1)
  e <- plogis(drop(ps_fit$X %*% alpha))
  iptw <- ifelse(low, bounds[1], ifelse(high, bounds[2],
                                         ifelse(ps$treated == 1, pit / e, (1 - pit) / (1 - e))))
  r <- match(d$participant_id, ps$participant_id)
  w <- iptw[r]
  parts <- list(ps_fit$X * (ps$treated - e), cbind(ps$treated - pit))
  ids <- list(ps$participant_id, ps$participant_id)
  if (ipcw) for (tp in names(cen_fits)) {
    cf <- cen_fits[[tp]]
    gamma <- take(ncol(cf$X)); pic <- take(1)
    p <- plogis(drop(cf$X %*% gamma))
    at <- d$timepoint == tp
    rr <- match(d$participant_id[at], cf$pid)
    w[at] <- w[at] * (pic / ifelse(cf$floored, 0.01, p))[rr]
    parts <- c(parts, list(cf$X * (cf$y - p), cbind(cf$y - pic)))
    ids <- c(ids, list(cf$pid, cf$pid))
  }
  beta <- take(ncol(Z))
  mu <- plogis(drop(Z %*% beta))
  width <- vapply(parts, ncol, 1)
  out <- matrix(0, 0, length(theta)); cl <- character(0); col <- 0
  for (j in seq_along(parts)) {
    m <- matrix(0, nrow(parts[[j]]), length(theta))
    m[, col + seq_len(width[j])] <- parts[[j]]
    out <- rbind(out, m); cl <- c(cl, centre_of[as.character(ids[[j]])])
    col <- col + width[j]
  }
  m <- matrix(0, nrow(Z), length(theta)); m[, col + seq_len(ncol(Z))] <- Z * (w * (d$y - mu))
  list(psi = rbind(out, m), cluster = c(cl, d$centre_code), w = w, mu = mu,
       r = r, sizes = c(width, ncol(Z)))
}

analytic_bread <- function(theta, d, Z, ipcw, s) {
  # -d(sum psi)/d theta, block by block (the outcome row carries d w / d theta).
  n <- length(theta); A <- matrix(0, n, n); k <- 0
  nb <- ncol(Z); ob <- (n - nb + 1):n
  w <- s$w; mu <- s$mu; res <- Z * (d$y - mu)
  put <- function(J, dW) {
    idx <- k + seq_len(ncol(J)); A[idx, idx] <<- J
    A[ob, idx] <<- -t(res) %*% dW; k <<- k + ncol(J)
  }
  alpha <- theta[seq_len(ncol(ps_fit$X))]; pit <- theta[ncol(ps_fit$X) + 1]
  e <- plogis(drop(ps_fit$X %*% alpha))
  rawe <- ifelse(ps$treated == 1, pit / e, (1 - pit) / (1 - e))
  free <- !(low | high)[s$r]
  tr <- ps$treated[s$r] == 1
  put(crossprod(ps_fit$X, ps_fit$X * (e * (1 - e))),
      ps_fit$X[s$r, ] * (w * free * ifelse(tr, -(1 - e[s$r]), e[s$r])))
  put(matrix(nrow(ps)), cbind(w * free * ifelse(tr, 1 / pit, -1 / (1 - pit))))
  if (ipcw) for (tp in names(cen_fits)) {
    cf <- cen_fits[[tp]]
    gamma <- theta[k + seq_len(ncol(cf$X))]; pic <- theta[k + ncol(cf$X) + 1]
    p <- plogis(drop(cf$X %*% gamma))
    at <- d$timepoint == tp
    rr <- match(d$participant_id, cf$pid); rr[!at] <- NA
    dg <- matrix(0, nrow(d), ncol(cf$X)); dp <- numeric(nrow(d))
    ok <- which(!is.na(rr))
    dg[ok, ] <- cf$X[rr[ok], ] * (-w[ok] * (1 - p[rr[ok]]) * !cf$floored[rr[ok]])
    dp[ok] <- w[ok] / pic
    put(crossprod(cf$X, cf$X * (p * (1 - p))), dg)
    put(matrix(nrow(cf$X)), cbind(dp))
  }
  A[ob, ob] <- crossprod(Z, Z * (w * mu * (1 - mu)))
  A
}

numeric_bread <- function(theta, d, Z, ipcw, h = 1e-5) {
  A <- matrix(0, length(theta), length(theta))
  for (j in seq_along(theta)) {
    up <- theta; dn <- theta; up[j] <- up[j] + h; dn[j] <- dn[j] - h
    A[, j] <- -(colSums(stacked(up, d, Z, ipcw)$psi) - colSums(stacked(dn, d, Z, ipcw)$psi)) / (2 * h)
  }
  A
}

for (outcome in c("any_risk_practice", "any_complication")) {
  d <- v[!is.na(v[[outcome]]), ]
  d$y <- d[[outcome]]
  d$intervention <- as.numeric(d$group_itt == "intervention")
  d$m6 <- as.numeric(d$timepoint == "M6"); d$m12 <- as.numeric(d$timepoint == "M12")
  Z <- model.matrix(~ intervention * (m6 + m12) + age_at_inclusion, d)
  for (ipcw in c(FALSE, TRUE)) {
    nuis <- c(ps_fit$coef, pi_t)
    if (ipcw) for (cf in cen_fits) nuis <- c(nuis, cf$coef, mean(cf$y))
    s0 <- stacked(c(nuis, rep(0, ncol(Z))), d, Z, ipcw)
    fit <- suppressWarnings(glm(y ~ intervention * (m6 + m12) + age_at_inclusion,
                                family = binomial, data = d, weights = s0$w,
                                control = glm.control(epsilon = 1e-14, maxit = 100)))
    theta <- c(nuis, coef(fit))
    s <- stacked(theta, d, Z, ipcw)
    meat <- crossprod(rowsum(s$psi, s$cluster))
    G <- length(unique(s$cluster))
    ob <- (length(theta) - ncol(Z) + 1):length(theta)
    se_of <- function(A) {
      B <- solve(A)
      sqrt(diag((B %*% meat %*% t(B))[ob, ob]) * G / (G - 1))
    }
    A <- analytic_bread(theta, d, Z, ipcw, s)
    An <- numeric_bread(theta, d, Z, ipcw)
    cat("==", outcome, if (ipcw) "IPTW x IPCW" else "IPTW", "\n")
    cat("max |score sum| at the estimate:", max(abs(colSums(s$psi))), "\n")
    cat("max |analytic - finite-difference bread| / max |bread|:",
        max(abs(A - An)) / max(abs(A)), "\n")
    naive <- sqrt(diag(solve(A[ob, ob]) %*% crossprod(rowsum(s$psi[, ob], s$cluster)) %*%
                       solve(A[ob, ob])) * G / (G - 1))
    print(cbind(coef = coef(fit), se_stacked = se_of(A), se_stacked_fd = se_of(An),
                se_weights_known = naive))
  }
}
